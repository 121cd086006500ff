"""The shell that assembles smartbus: ``app`` (the composition root, ``create_app(settings)``)
and ``cli`` (the ``smartbus`` command, its subcommands in ``commands``) over the endpoints
(``api``, ``oba``, ``siri``) and the planner jobs (``jobs``), which serve from the live
machinery (``rider``: what rider answers are made of; ``tracking``: the tracker worker), all
going through the HTTP and process plumbing (``infra``). ``keys``, ``settings`` and
``feed_versions`` (the served feed) are shared by all. ``pyproject.toml``'s import-linter
contract on ``web`` holds that order.
"""
