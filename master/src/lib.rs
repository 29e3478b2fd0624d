//! kmedic-master: everything that decides and acts.
