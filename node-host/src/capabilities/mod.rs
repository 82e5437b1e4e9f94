//! Screen, camera and location back-ends.
