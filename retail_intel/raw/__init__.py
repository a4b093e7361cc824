"""The raw Olist files: their contract, and loading them into a warehouse."""
