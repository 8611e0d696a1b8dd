//! Local file headers and data descriptors.
