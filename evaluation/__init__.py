"""What each augmentation buys: recommenders trained without and with it, and their metrics."""
