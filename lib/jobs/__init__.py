"""Jobs: the model, the queue, the worker pool and the pipeline that runs one job."""
