"""What the engine runs on: a thread pool that splits a batch (:mod:`cnn.parallel.threads`,
with BLAS held to one thread meanwhile) and glibc's allocator kept from returning each step's
pages (:mod:`cnn.parallel.allocator`)."""
