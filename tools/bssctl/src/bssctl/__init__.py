"""bssctl: the ops engineer's view of the event system, reading the topic registry of `bss_contracts`.

Every command reads the broker (and, for `outbox`, the services' databases) named by the same environment
variables the services use: KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC_PREFIX, <SERVICE>_DATABASE_URL.

Exit codes (the same for every command):
  0  ok
  1  a threshold was exceeded (--max-lag, --max-backlog, --max-age)
  2  bad input or a refused operation (unknown topic, service or id; replay of a group that has members),
     reported as one line on stderr
  3  the broker or a database could not be reached, or another failure (one line on stderr, no traceback)
  130  interrupted (Ctrl-C), e.g. to end `tail --follow` or `metrics --serve`
"""

OK = 0
THRESHOLD_EXCEEDED = 1
BAD_INPUT = 2
UNAVAILABLE = 3
