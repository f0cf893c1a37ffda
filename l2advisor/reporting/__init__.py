"""Reports: data extracted from a fit (report data), figures drawn from that data, and the
markdown page.

May import science and errors only; matplotlib is imported only when drawing."""
