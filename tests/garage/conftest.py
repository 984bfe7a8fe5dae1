from tests.datasets.conftest import pitlane_dirs, real_sample  # noqa: F401  (same folders and sample)
