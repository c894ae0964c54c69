"""The local runtime's serving processes: a graph server per predictor replica, a gateway per deployment.

Both are standalone `python -m` programs the supervisor spawns; they speak Seldon v1 and the
Open Inference Protocol (V2) on 127.0.0.1 and expose Seldon-named Prometheus metrics.
"""
