"""``cnn serve``: a local web page to draw a digit and watch the network read it, and its API.

- :mod:`cnn.server.images`: uploaded bytes -> the checked, decoded image -> the 28 x 28 network
  input (the same :func:`cnn.vision.to_mnist` as ``cnn predict``);
- :mod:`cnn.server.activations`: the activation maps of every convolution / pooling / residual
  token, labelled as ``cnn summary`` names them;
- :mod:`cnn.server.app`: the FastAPI application (``/``, ``/api/predict``, ``/api/models``,
  ``/api/health``, ``/docs``);
- ``static/``: the page (HTML, JavaScript, CSS) shipped as package data: no CDN, no build step.

FastAPI, uvicorn and python-multipart are the optional extra ``cnn[serve]``.
"""
