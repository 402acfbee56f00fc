"""The browser's views: the operator's panel of a station (station.py: `pbgrade station --web`) and the
supervisor's page over the run database (supervisor.py: `pbgrade supervisor`), served by server.py."""
