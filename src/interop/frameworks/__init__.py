"""What converters, runtimes and plugins share about each framework.

One module per framework (torch, tensorflow, sklearn, onnx, coreml): input naming, tensor
conversion, tracing, signatures, dynamic-batch inspection, interface specs. Converters and
runtimes import these modules, never each other. A module here imports only the light parts of
interop (types, errors, detect, util, _lazy) and its siblings; the framework itself is
imported inside the function that needs it.
"""
