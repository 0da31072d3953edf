"""Sub-commands of `sdx`; each module here has a ``register(commands)`` function."""
