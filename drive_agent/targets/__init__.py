"""Where frames come from and commands go: the Udacity simulator server, our simulator, a car."""
