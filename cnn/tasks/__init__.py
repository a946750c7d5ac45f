"""What a user asks cnn to do, built on the engine and the file formats: the training loop
(:mod:`cnn.tasks.train`), prediction on image files (:mod:`cnn.tasks.predict`,
:mod:`cnn.tasks.predictor`), ensembles (:mod:`cnn.tasks.ensemble`), the not-a-digit gate
(:mod:`cnn.tasks.reject`), fine-tuning (:mod:`cnn.tasks.finetune`), metrics and plots
(:mod:`cnn.tasks.metrics`, :mod:`cnn.tasks.plots`), and feature visualization by activation
maximization (:mod:`cnn.tasks.visualize` with its parameterizations and pictures)."""
