"""Running a sweep: jobs, the output folder, scheduling, dispatch, the worker, the baseline, Dask."""
