"""Running things: batches of notebooks, executors, the disk memo and the notebook helper."""
