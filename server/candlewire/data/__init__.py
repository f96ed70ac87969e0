"""Market data: the exchange catalogue, candle imports and the exchange API-key vault.

Importing this package registers the `candle_import` job kind. The registry stores only the
"module:function" path, so nothing here imports the job code (or ccxt) until a worker runs it,
and the registry never imports this package: no import cycle.
"""

from candlewire.jobs.registry import register

register("candle_import", "candlewire.data.candle_import:run")
