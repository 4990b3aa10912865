# gunicorn configuration for production: gunicorn -c /etc/receiver/gunicorn.conf.py
#     'receiver.web:create_app()'
# The choices (gthread workers, nested timeouts, no preload, JSON access log) are explained in
# receiver/gunicorn_config.py, which this file extends; override what your host needs below.

from receiver.gunicorn_config import *  # noqa: F403

# nginx reaches gunicorn through a unix socket in systemd's RuntimeDirectory.
bind = "unix:/run/receiver/gunicorn.sock"
# One process per core; raise threads rather than workers when Redis is far away.
# workers = 4
# threads = 8
