"""What the engine runs on: a thread pool that splits a batch (:mod:`cnn.parallel.threads`,
with BLAS held to one thread meanwhile) and glibc's allocator kept from returning each step's
pages (:mod:`cnn.parallel.allocator`); worker processes with shared memory for the data-parallel
training step (:mod:`cnn.parallel.workers`, its numerics in :mod:`cnn.nn.data_parallel`)."""
