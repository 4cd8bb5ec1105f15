"""The reliability and security suite: load, faults and hostile input, with figures."""
