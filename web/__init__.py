"""The composition root: create_app(settings), HTTP API, WebSocket, pages, CLI, job runners."""
