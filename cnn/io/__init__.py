"""Files a network lives in: self-describing ``.npz`` weights (:mod:`cnn.io.weights`, read
safely by :mod:`cnn.io.npz`), ONNX export and import (:mod:`cnn.io.onnx_export`,
:mod:`cnn.io.onnx_import`, :mod:`cnn.io.onnx_graph`), and the catalog of shipped and user
weights files (:mod:`cnn.io.catalog`)."""
