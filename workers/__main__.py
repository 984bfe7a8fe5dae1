"""`python -m workers worker ...` is `celery -A workers.celery_app worker ...`."""

from workers.celery_app import app

if __name__ == "__main__":
    app.start()
