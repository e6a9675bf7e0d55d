"""Models: networks, their cards, and the registry that lists, loads and saves them."""
