from tests.support.model_fixtures import make_ready_model, tiny_steering_model  # noqa: F401
