"""``cnn serve``: a local web page to draw a digit (or a number) and watch the network read it,
and its API.

- :mod:`cnn.server.images`: uploaded bytes -> the checked, decoded image -> the 28 x 28 network
  input (the same :func:`cnn.vision.to_mnist` as ``cnn predict``);
- :mod:`cnn.server.numbers`: a whole number in the upload (``max_digits``), as ``cnn predict
  --max-digits`` reads it, with each digit's bars, 28 x 28 and maps for the page;
- :mod:`cnn.server.activations`: the activation maps of every convolution / pooling / residual
  token, labelled as ``cnn summary`` names them;
- :mod:`cnn.server.workers`: ``--workers N``, N processes answering on one socket;
- :mod:`cnn.server.app`: the FastAPI application (``/``, ``/api/predict``, ``/api/models``,
  ``/api/health``, ``/docs``);
- ``static/``: the page (HTML, JavaScript, CSS) shipped as package data: no CDN, no build step.

FastAPI, uvicorn and python-multipart are the optional extra ``cnn[serve]``.
"""
