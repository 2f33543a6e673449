"""The training layer: everything that makes models. Needs torch (and the [train] extra); the
runtime (the rest of indi_edge) never imports it at module level, and tests/test_layers.py holds
that rule.

One batch's way through training:
    data/  (the image corpus, degradations, dead leaves, pair and batch sources)
    -> timesampling (p(t)) -> train (x_t = (1-t) x + t y, F(x_t, t), losses, AdamW, EMA)
    -> checkpoint (resumable runs) -> nn / naf (the networks, saved as safetensors + JSON)
    -> evaluate (the held-out, train and video protocols; the runtime's metrics)

Modules: nn (presets, build/save/load, the edge-s U-Net), naf (the NAFNet-style U-Net),
conditioning (the t embedding both share), train and train_config (the loop and its settings),
losses, timesampling, checkpoint, evaluate (held-out protocol and baselines), flicker (video
flicker), toy (the paper's 2-D toy, closed form).
"""
