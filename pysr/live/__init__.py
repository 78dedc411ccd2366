"""The live system's decision and update logic (docs/live.md): pure pieces, no sockets here.

    monitor.py    per-keyframe PSNR gain → LOWESS (Epanechnikov, k nearest) → scene-change events
    stop_rule.py  TH = min(THs, α·THp), THp from a 1-20-20-20-1 sigmoid MLP fitted to the cold-start curve
    updates.py    signed, versioned model updates (whole .pysr or parameter delta) and their strict loading
    uplink.py     video + update bitrate <= uplink: a token bucket that paces update bytes

The programs around them: push.py (the streamer; --train adds trainer.py, the online trainer and the loop that
decides when it trains, and publisher.py, which sends its updates), server.py, worker.py, control.py, nginx.py
(the server).
"""
