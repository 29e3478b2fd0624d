//! PNG charts through plotters' bitmap backend. No text is drawn (the machines have no fonts and
//! plotters' font backends need system fonts or a bundled TTF): axes, grid lines at powers of ten
//! and coloured series only; the report's markdown says what each colour and line is.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

/// One series: colour and (x, y) points.
pub struct Series {
    /// Line colour.
    pub color: RGBColor,
    /// Points, x ascending.
    pub points: Vec<(f64, f64)>,
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing a chart: {e:?}")
}

/// A log-log chart of `series` with grid lines at each power of ten; returns the axes' ranges
/// (x from, x to, y from, y to) for the caption.
pub fn log_log(path: &Path, series: &[Series]) -> Result<(f64, f64, f64, f64)> {
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts.filter(|(x, y)| *x > 0.0 && *y > 0.0) {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 >= x1 || y0 > y1 {
        return Ok((0.0, 0.0, 0.0, 0.0));
    }
    let (x0, x1) = (
        10f64.powf(x0.log10().floor()),
        10f64.powf(x1.log10().ceil()),
    );
    let (y0, y1) = (
        10f64.powf(y0.log10().floor()),
        10f64.powf(y1.log10().ceil()),
    );
    let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let area = root.margin(20, 20, 20, 20);
    let mut chart = ChartBuilder::on(&area)
        .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
        .map_err(err)?;
    let grey = RGBColor(210, 210, 210);
    let mut x = x0;
    while x <= x1 * 1.0001 {
        chart
            .draw_series(LineSeries::new([(x, y0), (x, y1)], &grey))
            .map_err(err)?;
        x *= 10.0;
    }
    let mut y = y0;
    while y <= y1 * 1.0001 {
        chart
            .draw_series(LineSeries::new([(x0, y), (x1, y)], &grey))
            .map_err(err)?;
        y *= 10.0;
    }
    draw(&mut chart, series)?;
    root.present().map_err(err)?;
    Ok((x0, x1, y0, y1))
}

/// A linear chart from 0 with grid lines every `x_step` and `y_step`.
pub fn linear(path: &Path, series: &[Series], x_step: f64, y_step: f64) -> Result<()> {
    let pts = || series.iter().flat_map(|s| s.points.iter());
    let x1 = pts().map(|p| p.0).fold(0.0, f64::max).max(x_step);
    let y1 = (pts().map(|p| p.1).fold(0.0, f64::max) / y_step).ceil() * y_step + y_step;
    let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let area = root.margin(20, 20, 20, 20);
    let mut chart = ChartBuilder::on(&area)
        .build_cartesian_2d(0.0..x1, 0.0..y1)
        .map_err(err)?;
    let grey = RGBColor(210, 210, 210);
    let mut x = 0.0;
    while x <= x1 {
        chart
            .draw_series(LineSeries::new([(x, 0.0), (x, y1)], &grey))
            .map_err(err)?;
        x += x_step;
    }
    let mut y = 0.0;
    while y <= y1 {
        chart
            .draw_series(LineSeries::new([(0.0, y), (x1, y)], &grey))
            .map_err(err)?;
        y += y_step;
    }
    draw(&mut chart, series)?;
    root.present().map_err(err)
}

fn draw<DB: DrawingBackend, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    series: &[Series],
) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for s in series {
        let style = ShapeStyle::from(&s.color).stroke_width(3);
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), style))
            .map_err(err)?;
        chart
            .draw_series(
                s.points
                    .iter()
                    .map(|&p| Circle::new(p, 4, ShapeStyle::from(&s.color).filled())),
            )
            .map_err(err)?;
    }
    Ok(())
}
