//! The department's seal drawn, not pasted: a red round stamp with an outer ring, a
//! five-pointed star in the centre, the department's name along the upper arc (each character
//! placed and turned along it) and an optional short line under the star (e.g. 行政审批专用章).
//!
//! Everything is vector: the characters are the font's glyph outlines, so the same drawing
//! serves on a page and as a signature widget's appearance stream (a Form XObject needing no
//! font resource). Coordinates are PDF's: y up, origin at the lower left of a `size`×`size`
//! box.

use std::f32::consts::{FRAC_PI_2, PI};

use super::{DocumentError, DocumentFonts};

/// The diameter of a government department's seal: 42 mm, in points.
pub const SEAL_DIAMETER_PT: f32 = 42.0 * 72.0 / 25.4;

/// Seal red (RGB).
pub const SEAL_RED: [u8; 3] = [0xE6, 0x00, 0x12];

/// Proportions of the stamp, as fractions of its diameter.
const RING_WIDTH: f32 = 0.032;
const STAR_RADIUS: f32 = 0.17;
const NAME_SIZE: f32 = 0.155;
const NAME_GAP: f32 = 0.035;
const SUBTITLE_SIZE: f32 = 0.095;
/// Narrow characters, as seals set them (长宋-like).
const NAME_WIDTH_SCALE: f32 = 0.85;
/// The arc between the first and last characters' centres, at most and at least.
const NAME_MAX_SPAN: f32 = 230.0 * PI / 180.0;
const NAME_MIN_SPAN: f32 = 150.0 * PI / 180.0;

/// What the seal says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealAppearance {
    /// Along the upper arc: the department's name.
    pub name: String,
    /// Under the star, if any (e.g. 行政审批专用章).
    pub subtitle: Option<String>,
    pub color: [u8; 3],
}

impl SealAppearance {
    pub fn new(name: impl Into<String>) -> SealAppearance {
        SealAppearance {
            name: name.into(),
            subtitle: None,
            color: SEAL_RED,
        }
    }

    pub fn with_subtitle(mut self, subtitle: impl Into<String>) -> SealAppearance {
        self.subtitle = Some(subtitle.into());
        self
    }
}

/// A path segment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PathOp {
    MoveTo(f32, f32),
    LineTo(f32, f32),
    CubicTo(f32, f32, f32, f32, f32, f32),
    Close,
}

/// How a shape is painted, in the seal's colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Paint {
    /// Filled with the non-zero winding rule.
    Fill,
    /// Stroked with this line width.
    Stroke(f32),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub ops: Vec<PathOp>,
    pub paint: Paint,
}

/// The drawn seal.
#[derive(Debug, Clone, PartialEq)]
pub struct SealImage {
    size: f32,
    color: [u8; 3],
    shapes: Vec<Shape>,
    /// The content stream, written once.
    content: Vec<u8>,
    /// Deflated, or empty when deflating does not make it smaller.
    deflated: Vec<u8>,
}

impl SealImage {
    /// Draws `appearance` at `size` points across, with glyph outlines from `fonts`.
    pub fn draw(
        appearance: &SealAppearance,
        fonts: &DocumentFonts,
        size: f32,
    ) -> Result<SealImage, DocumentError> {
        let name: Vec<char> = appearance
            .name
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if name.is_empty() {
            return Err(DocumentError::InvalidData(
                "the seal's name is empty".into(),
            ));
        }
        if !(size.is_finite() && size > 0.0) {
            return Err(DocumentError::InvalidData(format!(
                "seal size {size} is not positive"
            )));
        }
        let face = fonts.face()?;
        let c = size / 2.0;
        let mut shapes = Vec::new();

        let ring_width = RING_WIDTH * size;
        shapes.push(Shape {
            ops: circle(c, c, c - ring_width / 2.0),
            paint: Paint::Stroke(ring_width),
        });

        let star_radius = STAR_RADIUS * size;
        let mut star = Vec::with_capacity(11);
        for (i, (x, y)) in star_points(c, c, star_radius).into_iter().enumerate() {
            star.push(if i == 0 {
                PathOp::MoveTo(x, y)
            } else {
                PathOp::LineTo(x, y)
            });
        }
        star.push(PathOp::Close);
        shapes.push(Shape {
            ops: star,
            paint: Paint::Fill,
        });

        let name_size = NAME_SIZE * size;
        let name_radius = c - ring_width - NAME_GAP * size - name_size / 2.0;
        let layout = arc_layout(
            name.len(),
            name_radius,
            name_size * NAME_WIDTH_SCALE * 1.1,
            NAME_MIN_SPAN,
            NAME_MAX_SPAN,
        );
        let mut name_ops = Vec::new();
        for (ch, at) in name.iter().zip(&layout.placements) {
            glyph_outline(
                &face,
                *ch,
                GlyphPlacement {
                    x: c + at.x,
                    y: c + at.y,
                    rotation: at.rotation,
                    size: name_size,
                    width_scale: NAME_WIDTH_SCALE * layout.squeeze,
                },
                &mut name_ops,
            )?;
        }
        shapes.push(Shape {
            ops: name_ops,
            paint: Paint::Fill,
        });

        if let Some(subtitle) = &appearance.subtitle {
            let chars: Vec<char> = subtitle.chars().filter(|c| !c.is_whitespace()).collect();
            if !chars.is_empty() {
                let sub_size = SUBTITLE_SIZE * size;
                let centre_y = c - star_radius - 0.04 * size - sub_size / 2.0;
                let (xs, width_scale) = line_layout(chars.len(), c, sub_size * 0.95, 0.56 * size);
                let mut ops = Vec::new();
                for (ch, x) in chars.iter().zip(xs) {
                    glyph_outline(
                        &face,
                        *ch,
                        GlyphPlacement {
                            x,
                            y: centre_y,
                            rotation: 0.0,
                            size: sub_size,
                            width_scale,
                        },
                        &mut ops,
                    )?;
                }
                shapes.push(Shape {
                    ops,
                    paint: Paint::Fill,
                });
            }
        }
        let content = content_stream(appearance.color, &shapes);
        let mut deflated = lopdf::Stream::new(lopdf::Dictionary::new(), content.clone());
        deflated
            .compress()
            .map_err(|e| DocumentError::Pdf(format!("deflating the seal: {e}")))?;
        let deflated = if deflated.dict.has(b"Filter") {
            deflated.content
        } else {
            // Too small to gain from deflating.
            Vec::new()
        };
        Ok(SealImage {
            size,
            color: appearance.color,
            shapes,
            content,
            deflated,
        })
    }

    pub fn size(&self) -> f32 {
        self.size
    }

    pub fn color(&self) -> [u8; 3] {
        self.color
    }

    pub fn shapes(&self) -> &[Shape] {
        &self.shapes
    }

    /// PDF content-stream operators drawing the seal in the box `[0 0 size size]`.
    pub fn content_stream(&self) -> &[u8] {
        &self.content
    }

    /// The same, deflated (for a `/FlateDecode` stream), computed once when drawn; empty when
    /// deflating would not make it smaller.
    pub fn deflated_content_stream(&self) -> &[u8] {
        &self.deflated
    }
}

fn content_stream(color: [u8; 3], shapes: &[Shape]) -> Vec<u8> {
    use std::fmt::Write;
    let [r, g, b] = color.map(|v| Num(f32::from(v) / 255.0));
    let mut out = String::with_capacity(32 * 1024);
    // Writing to a String cannot fail.
    let _ = writeln!(out, "q {r} {g} {b} rg {r} {g} {b} RG 1 J 1 j");
    for shape in shapes {
        for op in &shape.ops {
            let _ = match *op {
                PathOp::MoveTo(x, y) => writeln!(out, "{} {} m", Num(x), Num(y)),
                PathOp::LineTo(x, y) => writeln!(out, "{} {} l", Num(x), Num(y)),
                PathOp::CubicTo(x1, y1, x2, y2, x, y) => writeln!(
                    out,
                    "{} {} {} {} {} {} c",
                    Num(x1),
                    Num(y1),
                    Num(x2),
                    Num(y2),
                    Num(x),
                    Num(y)
                ),
                PathOp::Close => writeln!(out, "h"),
            };
        }
        let _ = match shape.paint {
            Paint::Fill => writeln!(out, "f"),
            Paint::Stroke(width) => writeln!(out, "{} w S", Num(width)),
        };
    }
    out += "Q\n";
    out.into_bytes()
}

/// A number as a content stream writes it: at most 3 decimals, no trailing zeros.
pub(crate) struct Num(pub f32);

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let thousandths = (f64::from(self.0) * 1000.0).round();
        if !thousandths.is_finite() || thousandths == 0.0 {
            return f.write_str("0");
        }
        let sign = if thousandths < 0.0 { "-" } else { "" };
        // |v| ≤ f32::MAX·1000 fits an f64 exactly enough; u128 holds it.
        let abs = thousandths.abs() as u128;
        let (int, mut frac) = (abs / 1000, abs % 1000);
        if frac == 0 {
            return write!(f, "{sign}{int}");
        }
        let mut width = 3;
        while frac % 10 == 0 {
            frac /= 10;
            width -= 1;
        }
        write!(f, "{sign}{int}.{frac:0width$}")
    }
}

/// Where one character goes on the arc, relative to the seal's centre: its centre and how far
/// it is turned (radians, counter-clockwise), so that its top points away from the centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArcPlacement {
    pub x: f32,
    pub y: f32,
    pub rotation: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ArcLayout {
    /// The angle between the first and the last character's centres.
    pub span: f32,
    /// ≤ 1: how much narrower the characters must be drawn to fit (1 = as wide as asked).
    pub squeeze: f32,
    /// Left to right (clockwise from the left end of the arc), symmetric about the top.
    pub placements: Vec<ArcPlacement>,
}

/// Places `n` characters on a circle of `radius` around the origin, centred on the top,
/// `advance` apart along the arc, their centres spanning at least `min_span` (short names are
/// spread out, as seals do) and at most `max_span` (long names are squeezed).
pub fn arc_layout(n: usize, radius: f32, advance: f32, min_span: f32, max_span: f32) -> ArcLayout {
    if n == 0 {
        return ArcLayout {
            span: 0.0,
            squeeze: 1.0,
            placements: Vec::new(),
        };
    }
    let gaps = (n - 1) as f32;
    let natural_step = advance / radius;
    let (step, squeeze) = if n == 1 {
        (0.0, 1.0)
    } else if natural_step * gaps > max_span {
        let step = max_span / gaps;
        (step, step / natural_step)
    } else if natural_step * gaps < min_span && n > 2 {
        (min_span / gaps, 1.0)
    } else {
        (natural_step, 1.0)
    };
    let placements = (0..n)
        .map(|i| {
            let angle = FRAC_PI_2 + (gaps / 2.0 - i as f32) * step;
            ArcPlacement {
                x: radius * angle.cos(),
                y: radius * angle.sin(),
                rotation: angle - FRAC_PI_2,
            }
        })
        .collect();
    ArcLayout {
        span: step * gaps,
        squeeze,
        placements,
    }
}

/// The ten corners of a five-pointed star centred at (`cx`, `cy`) with one point straight up,
/// alternating outer (radius `r`) and inner corners, counter-clockwise from the top. The inner
/// radius is where the star's edges cross: `r·cos 72°/cos 36°`.
pub fn star_points(cx: f32, cy: f32, r: f32) -> [(f32, f32); 10] {
    let inner = r * (2.0 * PI / 5.0).cos() / (PI / 5.0).cos();
    let mut points = [(0.0, 0.0); 10];
    for (i, point) in points.iter_mut().enumerate() {
        let angle = FRAC_PI_2 + i as f32 * PI / 5.0;
        let radius = if i % 2 == 0 { r } else { inner };
        *point = (cx + radius * angle.cos(), cy + radius * angle.sin());
    }
    points
}

/// A circle as four cubic Béziers, counter-clockwise from the rightmost point.
pub fn circle(cx: f32, cy: f32, r: f32) -> Vec<PathOp> {
    const K: f32 = 0.552_284_8;
    let k = K * r;
    vec![
        PathOp::MoveTo(cx + r, cy),
        PathOp::CubicTo(cx + r, cy + k, cx + k, cy + r, cx, cy + r),
        PathOp::CubicTo(cx - k, cy + r, cx - r, cy + k, cx - r, cy),
        PathOp::CubicTo(cx - r, cy - k, cx - k, cy - r, cx, cy - r),
        PathOp::CubicTo(cx + k, cy - r, cx + r, cy - k, cx + r, cy),
        PathOp::Close,
    ]
}

/// Centres of `n` characters on a horizontal line centred on `centre_x`, `advance` apart,
/// squeezed (second value, ≤ 1) to fit within `max_width`.
pub fn line_layout(n: usize, centre_x: f32, advance: f32, max_width: f32) -> (Vec<f32>, f32) {
    let natural = n as f32 * advance;
    let squeeze = if natural > max_width {
        max_width / natural
    } else {
        1.0
    };
    let step = advance * squeeze;
    let first = centre_x - step * (n as f32 - 1.0) / 2.0;
    ((0..n).map(|i| first + i as f32 * step).collect(), squeeze)
}

/// Where and how one glyph is drawn: its bounding box centred on (`x`, `y`), turned by
/// `rotation`, its em `size` points high and `width_scale` as wide.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GlyphPlacement {
    pub x: f32,
    pub y: f32,
    pub rotation: f32,
    pub size: f32,
    pub width_scale: f32,
}

/// Appends the outline of `ch` to `ops`.
pub(crate) fn glyph_outline(
    face: &ttf_parser::Face<'_>,
    ch: char,
    at: GlyphPlacement,
    ops: &mut Vec<PathOp>,
) -> Result<(), DocumentError> {
    let glyph = face
        .glyph_index(ch)
        .ok_or(DocumentError::MissingGlyph { ch })?;
    let Some(bbox) = face.glyph_bounding_box(glyph) else {
        return Ok(()); // a blank glyph
    };
    let scale = at.size / f32::from(face.units_per_em());
    let (sin, cos) = at.rotation.sin_cos();
    let mut builder = OutlineToOps {
        ops,
        centre: (
            (f32::from(bbox.x_min) + f32::from(bbox.x_max)) / 2.0,
            (f32::from(bbox.y_min) + f32::from(bbox.y_max)) / 2.0,
        ),
        sx: scale * at.width_scale,
        sy: scale,
        sin,
        cos,
        origin: (at.x, at.y),
        current: (0.0, 0.0),
    };
    face.outline_glyph(glyph, &mut builder);
    Ok(())
}

struct OutlineToOps<'a> {
    ops: &'a mut Vec<PathOp>,
    centre: (f32, f32),
    sx: f32,
    sy: f32,
    sin: f32,
    cos: f32,
    origin: (f32, f32),
    /// The current point, transformed.
    current: (f32, f32),
}

impl OutlineToOps<'_> {
    fn map(&self, x: f32, y: f32) -> (f32, f32) {
        let lx = (x - self.centre.0) * self.sx;
        let ly = (y - self.centre.1) * self.sy;
        (
            self.origin.0 + lx * self.cos - ly * self.sin,
            self.origin.1 + lx * self.sin + ly * self.cos,
        )
    }
}

impl ttf_parser::OutlineBuilder for OutlineToOps<'_> {
    fn move_to(&mut self, x: f32, y: f32) {
        let p = self.map(x, y);
        self.ops.push(PathOp::MoveTo(p.0, p.1));
        self.current = p;
    }

    fn line_to(&mut self, x: f32, y: f32) {
        let p = self.map(x, y);
        self.ops.push(PathOp::LineTo(p.0, p.1));
        self.current = p;
    }

    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        // The cubic with the same curve: control points 2/3 of the way to the quadratic's.
        let q = self.map(x1, y1);
        let p = self.map(x, y);
        let c0 = self.current;
        self.ops.push(PathOp::CubicTo(
            c0.0 + 2.0 / 3.0 * (q.0 - c0.0),
            c0.1 + 2.0 / 3.0 * (q.1 - c0.1),
            p.0 + 2.0 / 3.0 * (q.0 - p.0),
            p.1 + 2.0 / 3.0 * (q.1 - p.1),
            p.0,
            p.1,
        ));
        self.current = p;
    }

    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let a = self.map(x1, y1);
        let b = self.map(x2, y2);
        let p = self.map(x, y);
        self.ops.push(PathOp::CubicTo(a.0, a.1, b.0, b.1, p.0, p.1));
        self.current = p;
    }

    fn close(&mut self) {
        self.ops.push(PathOp::Close);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f32 = 1e-4;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < EPS
    }

    #[test]
    fn arc_characters_are_symmetric_about_the_top_and_turned_with_the_arc() {
        let layout = arc_layout(5, 40.0, 15.0, 0.0, 4.0);
        assert_eq!(layout.placements.len(), 5);
        assert!(close(layout.squeeze, 1.0));
        let mid = layout.placements[2];
        assert!(close(mid.x, 0.0) && close(mid.y, 40.0) && close(mid.rotation, 0.0));
        for i in 0..5 {
            let a = layout.placements[i];
            let b = layout.placements[4 - i];
            // Mirror images: x negated, same height, opposite turn.
            assert!(close(a.x, -b.x) && close(a.y, b.y) && close(a.rotation, -b.rotation));
            // On the circle, and turned by its angle from the top.
            assert!(close(a.x.hypot(a.y), 40.0));
            let angle_from_top = (-a.x).atan2(a.y);
            assert!(close(a.rotation, angle_from_top));
        }
        // Left to right: the first is on the left, turned counter-clockwise.
        assert!(layout.placements[0].x < 0.0 && layout.placements[0].rotation > 0.0);
        // Equal steps of advance / radius.
        let step = layout.placements[0].rotation - layout.placements[1].rotation;
        assert!(close(step, 15.0 / 40.0));
        assert!(close(layout.span, 4.0 * 15.0 / 40.0));
    }

    #[test]
    fn long_names_are_squeezed_into_the_maximum_span() {
        let layout = arc_layout(13, 40.0, 15.0, 0.0, PI);
        assert!(close(layout.span, PI));
        assert!(close(layout.squeeze, (PI / 12.0) / (15.0 / 40.0)));
        // The ends sit on the horizontal diameter.
        let first = layout.placements[0];
        assert!(close(first.x, -40.0) && first.y.abs() < 1e-3);
        assert!(close(first.rotation, FRAC_PI_2));
    }

    #[test]
    fn short_names_are_spread_to_the_minimum_span() {
        let layout = arc_layout(4, 40.0, 15.0, PI, 4.0);
        assert!(close(layout.span, PI));
        assert!(close(layout.squeeze, 1.0));
        let one = arc_layout(1, 40.0, 15.0, PI, 4.0);
        assert!(close(one.placements[0].x, 0.0) && close(one.placements[0].y, 40.0));
        assert!(arc_layout(0, 40.0, 15.0, PI, 4.0).placements.is_empty());
    }

    #[test]
    fn star_points_alternate_outer_and_inner_corners() {
        let points = star_points(10.0, 20.0, 30.0);
        assert!(close(points[0].0, 10.0) && close(points[0].1, 50.0));
        let inner = 30.0 * (0.4 * PI).cos() / (0.2 * PI).cos();
        for (i, (x, y)) in points.iter().enumerate() {
            let r = (x - 10.0).hypot(y - 20.0);
            assert!(close(r, if i % 2 == 0 { 30.0 } else { inner }), "{i}: {r}");
            let angle = (y - 20.0).atan2(x - 10.0);
            let expected = FRAC_PI_2 + i as f32 * PI / 5.0;
            assert!(close(angle.sin(), expected.sin()) && close(angle.cos(), expected.cos()));
        }
        // Straight edges: each inner corner lies on the line between the two outer corners two
        // apart (the pentagram's chords), which is what makes the five points' edges straight.
        let (a, b, p) = (points[0], points[4], points[1]);
        let cross = (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0);
        assert!(cross.abs() < 1e-2, "{cross}");
        // Symmetric about the vertical axis.
        assert!(close(points[2].0 - 10.0, -(points[8].0 - 10.0)));
        assert!(close(points[2].1, points[8].1));
    }

    #[test]
    fn circle_passes_through_its_four_axis_points() {
        let ops = circle(5.0, 5.0, 2.0);
        assert_eq!(ops[0], PathOp::MoveTo(7.0, 5.0));
        let ends: Vec<(f32, f32)> = ops
            .iter()
            .filter_map(|op| match op {
                PathOp::CubicTo(_, _, _, _, x, y) => Some((*x, *y)),
                _ => None,
            })
            .collect();
        assert_eq!(ends, vec![(5.0, 7.0), (3.0, 5.0), (5.0, 3.0), (7.0, 5.0)]);
        assert_eq!(ops.last(), Some(&PathOp::Close));
    }

    #[test]
    fn a_line_is_centred_and_squeezed_to_fit() {
        let (xs, squeeze) = line_layout(3, 50.0, 10.0, 100.0);
        assert_eq!(xs, vec![40.0, 50.0, 60.0]);
        assert!(close(squeeze, 1.0));
        let (xs, squeeze) = line_layout(4, 0.0, 10.0, 20.0);
        assert!(close(squeeze, 0.5));
        assert!(close(xs[0], -7.5) && close(xs[3], 7.5));
    }

    fn num(v: f32) -> String {
        Num(v).to_string()
    }

    #[test]
    fn numbers_print_briefly() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(-0.0001), "0");
        assert_eq!(num(12.34567), "12.346");
        assert_eq!(num(-3.05), "-3.05");
        assert_eq!(num(100.0), "100");
        assert_eq!(num(0.007), "0.007");
        assert_eq!(num(-250.5), "-250.5");
    }
}
