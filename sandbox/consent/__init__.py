"""The providers' consent screens and meetergo's OAuth callback, as the browser walks them."""
