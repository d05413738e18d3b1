"""The village self-screening queue (村级自查队列): the alert store, the identification workflow with its
deadlines, the officers' web page and HTTP API, accounts and scopes, and the notices they print."""
