"""Batch-at-a-time stream operators and the mapping from operator specs to them."""
