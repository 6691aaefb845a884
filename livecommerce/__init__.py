"""LiveCommerce: a self-hostable live-commerce streaming server."""
