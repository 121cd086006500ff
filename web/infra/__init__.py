"""What every request and process goes through, whatever it asks: problem+json errors
(``problems``) and JSON answers (``responses``), API keys (``auth``), rate limits and CORS
(``ratelimit``), security headers and body limits (``security``), Prometheus metrics
(``metrics``), store outages told from bugs (``outages``), the history's day partitions
(``retention``), the heap kept out of the garbage collector's way (``heap``) and fast ISO times
(``isotime``).

Nothing here imports the endpoints (``web.api``) or the live machinery (``web.rider``,
``web.tracking``): import-linter's contract on ``web`` holds it.
"""
