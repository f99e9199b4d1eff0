"""Numbers made visible for a person: inline SVG that needs no script and no network.

:mod:`.svg` builds SVG that stays inert whatever its text says; :mod:`.charts`
draws the bar charts that the offline audit report and the service's
dashboard share, so both look alike and escape alike.
"""
