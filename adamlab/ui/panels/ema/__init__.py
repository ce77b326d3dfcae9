"""The EMA playground: β sliders, an EMA with and without bias correction, m̂/√v̂ (``panel.EmaPanel``)."""
