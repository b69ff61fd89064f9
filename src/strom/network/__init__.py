"""The data path between tasks: elements, channels with credit-based flow control,
partitioners and record writers."""
