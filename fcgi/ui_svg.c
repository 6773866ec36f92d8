/*
 * ui_svg.c - bar charts as inline SVG, drawn on the server so that the
 * console needs no script and loads nothing. Text goes through ui_printf
 * (escaped); colours come from the stylesheet by class.
 */
#include <stdio.h>
#include <string.h>

#include "ui.h"

#define W 720.0
#define H 240.0
#define LEFT 70.0
#define RIGHT 10.0
#define TOP 12.0
#define BOTTOM 36.0

static void
value_text(char *out, size_t len, const char *unit, double v)
{
	snprintf(out, len, "%s%.3g", unit, v);
}

void
ui_svg_bars(struct ui *u, const char *title, const char *unit, const char *const *labels,
    size_t n, const struct ui_series *series, size_t nseries)
{
	double max = 0, plot_w = W - LEFT - RIGHT, plot_h = H - TOP - BOTTOM, slot, bar;
	char vt[48];
	size_t i, j, every;

	for (j = 0; j < nseries; j++)
		for (i = 0; i < n; i++)
			if (series[j].values[i] > max)
				max = series[j].values[i];
	if (max <= 0)
		max = 1;
	slot = n > 0 ? plot_w / (double)n : plot_w;
	bar = nseries > 0 ? slot * 0.8 / (double)nseries : slot;
	if (bar > 48)
		bar = 48;	/* a lone bar stays a bar, not a wall */
	every = n > 12 ? (n + 11) / 12 : 1;
	ui_printf(u, "<figure class=\"chart\">\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
	    "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"%s\">\n", W, H, title);
	/* axes and three gridlines with their values */
	for (i = 0; i <= 2; i++) {
		double y = TOP + plot_h - plot_h * (double)i / 2;
		value_text(vt, sizeof(vt), unit, max * (double)i / 2);
		ui_printf(u, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
		    "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
		    LEFT, y, W - RIGHT, y, LEFT - 4, y + 4, vt);
	}
	for (i = 0; i < n; i++) {
		double x0 = LEFT + slot * ((double)i + 0.5) - bar * (double)nseries / 2;
		for (j = 0; j < nseries; j++) {
			double v = series[j].values[i], h = plot_h * v / max;
			if (v > 0 && h < 1)
				h = 1;	/* a tiny non-zero value stays visible */
			value_text(vt, sizeof(vt), unit, v);
			ui_printf(u, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			    "height=\"%.1f\"><title>%s %s: %s</title></rect>\n", series[j].css,
			    x0 + bar * (double)j, TOP + plot_h - h, bar > 1 ? bar - 0.5 : bar, h,
			    labels[i], series[j].name, vt);
		}
		if (i % every == 0)
			ui_printf(u, "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" "
			    "text-anchor=\"middle\">%s</text>\n", LEFT + slot * ((double)i + 0.5),
			    H - BOTTOM + 16, labels[i]);
	}
	ui_raw(u, "</svg>\n");
	ui_printf(u, "<figcaption>%s", title);
	for (j = 0; j < nseries && nseries > 1; j++)
		ui_printf(u, " <span class=\"key %s\">%s</span>", series[j].css, series[j].name);
	ui_raw(u, "</figcaption>\n</figure>\n");
}
