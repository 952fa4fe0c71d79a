"""Resource management: beancounters, VSwap, the fair CPU scheduler, disk I/O, the VE's
own /proc view (lxcfs) and the capacity tools' arithmetic.  See docs/resources.md."""
