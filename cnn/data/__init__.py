"""Where images come from: MNIST (:mod:`cnn.data.mnist`: find, download, verify, load), Kaggle's
digit-recognizer CSVs (:mod:`cnn.data.kaggle`), folders of one's own images
(:mod:`cnn.data.folders`), the choice and mix of those sources (:mod:`cnn.data.sources`), and
training-time augmentation (:mod:`cnn.data.augment`).

``cnn.data`` was the MNIST module before the package was split by layer, so its names stay
here: ``from cnn.data import load_mnist`` works as before.
"""

from cnn.data.mnist import (
                            ENV_VAR,
                            HOW_TO_PASS,
                            KEYS,
                            MNIST_URL,
                            download_mnist,
                            find_mnist,
                            keras_cache_path,
                            load_mnist,
                            sha256_file,
                            validate_mnist,
)

__all__ = ["ENV_VAR", "HOW_TO_PASS", "KEYS", "MNIST_URL", "download_mnist", "find_mnist",
           "keras_cache_path", "load_mnist", "sha256_file", "validate_mnist"]
