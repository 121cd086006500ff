"""Pure prediction core: map matching, Kalman filters, arrivals, accuracy scoring, jams."""
