"""The try-on methods: one package per method behind one registry (see ``vton.methods.base``)."""
