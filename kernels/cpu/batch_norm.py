"""batch_norm has no CPU kernel: the graph pass fold_batchnorm_into_conv turns every batch_norm into the
producing conv's weights and bias (or a 1×1 depthwise conv), so no plan ever runs it here."""

UNSUPPORTED = "batch_norm is folded into a conv by the graph passes"
