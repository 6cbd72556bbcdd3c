//! A4 documents in Chinese: laid out here (pages of positioned text, rules, QR modules and the
//! seal's place), then painted with krilla, which embeds only the glyphs used.
//!
//! Layout coordinates are krilla's: points, origin at the page's top left, y down. The seal's
//! rectangle is returned in PDF user space (origin bottom left, y up), as a widget's `/Rect`
//! wants it.

use chrono::Datelike;
use krilla::Document;
use krilla::blend::BlendMode;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Transform};
use krilla::metadata::{DateTime, Metadata};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, Stroke};
use krilla::surface::Surface;
use krilla::text::TextDirection;

use super::model::{DocumentData, DocumentKind, PdfRect, SealPlacement, chinese_date};
use super::seal_image::{Paint, PathOp, SEAL_DIAMETER_PT, SealAppearance, SealImage};
use super::{DocumentError, DocumentFonts};

/// A4 in points.
pub const PAGE_WIDTH: f32 = 595.276;
pub const PAGE_HEIGHT: f32 = 841.89;
const MARGIN_TOP: f32 = 72.0;
const MARGIN_BOTTOM: f32 = 64.0;
const MARGIN_LEFT: f32 = 79.0;
const MARGIN_RIGHT: f32 = 74.0;
const BODY_WIDTH: f32 = PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT;

const BODY_SIZE: f32 = 15.0;
const BODY_LEADING: f32 = 26.0;
/// The signature block may reach into the bottom margin, above the page number.
const SIGNATURE_BOTTOM: f32 = PAGE_HEIGHT - 44.0;
const SMALL_SIZE: f32 = 11.0;
const QR_SIZE: f32 = 84.0;
const URL_SIZE: f32 = 7.5;

/// A rendered, not yet sealed, document.
#[derive(Debug, Clone)]
pub struct RenderedPdf {
    pub bytes: Vec<u8>,
    pub page_count: usize,
    /// Where the seal goes: the signature widget's page and rectangle.
    pub seal: SealPlacement,
}

/// Renders `kind` with `data` in the font of `fonts`. With `seal`, the seal is also drawn on
/// the page at its place (a print or preview without a digital signature); documents to be
/// sealed with [`super::pades::seal_pdf`] leave it out, the signature widget shows it.
pub fn render(
    fonts: &DocumentFonts,
    kind: &DocumentKind,
    data: &DocumentData,
    seal: Option<&SealAppearance>,
) -> Result<RenderedPdf, DocumentError> {
    data.validate()?;
    let seal_image = seal
        .map(|appearance| SealImage::draw(appearance, fonts, SEAL_DIAMETER_PT))
        .transpose()?;
    let face = fonts.face()?;
    let mut composer = Composer::new(&face);
    match kind {
        DocumentKind::Licence(_) => compose_licence(&mut composer, kind, data)?,
        _ => compose_notice(&mut composer, kind, data)?,
    }
    let placement = composer.signature_block(data)?;
    composer.page_numbers()?;
    let pages = composer.pages;
    let page_count = pages.len();

    let mut document = Document::new();
    let mut metadata = Metadata::new()
        .title(format!(
            "{}（{}）",
            kind.title(&data.frame),
            data.document_number
        ))
        .language("zh-CN".to_owned())
        .creator("fingertip".to_owned())
        .authors(vec![data.department.clone()]);
    if let (Ok(year), Ok(month), Ok(day)) = (
        u16::try_from(data.date.year()),
        u8::try_from(data.date.month()),
        u8::try_from(data.date.day()),
    ) {
        metadata = metadata.creation_date(DateTime::new(year).month(month).day(day));
    }
    document.set_metadata(metadata);
    let font = fonts.krilla_font();
    for (index, page) in pages.iter().enumerate() {
        let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)
            .ok_or_else(|| DocumentError::Pdf("page size".into()))?;
        let mut pdf_page = document.start_page_with(settings);
        let mut surface = pdf_page.surface();
        for item in &page.items {
            paint_item(&mut surface, &font, item);
        }
        if index == placement.page
            && let Some(image) = &seal_image
        {
            paint_seal(&mut surface, image, placement.x, placement.top);
        }
        surface.finish();
        pdf_page.finish();
    }
    let bytes = document
        .finish()
        .map_err(|e| DocumentError::Pdf(format!("{e:?}")))?;
    Ok(RenderedPdf {
        bytes,
        page_count,
        seal: SealPlacement {
            page: placement.page,
            rect: PdfRect {
                x0: placement.x,
                y0: PAGE_HEIGHT - placement.top - SEAL_DIAMETER_PT,
                x1: placement.x + SEAL_DIAMETER_PT,
                y1: PAGE_HEIGHT - placement.top,
            },
        },
    })
}

// ---------------------------------------------------------------------------------------------
// Templates

fn compose_notice(
    c: &mut Composer<'_>,
    kind: &DocumentKind,
    data: &DocumentData,
) -> Result<(), DocumentError> {
    c.header(data, &kind.title(&data.frame))?;
    c.line(&format!("{}：", data.applicant.name), BODY_SIZE, 0.0)?;
    let item = &data.item_name;
    let number = &data.acceptance_number;
    let frame = &data.frame;
    match kind {
        DocumentKind::AcceptanceNotice { decide_by } => {
            c.paragraph(&format!(
                "你（单位）提出的“{item}”申请，经审查，申请材料齐全、符合法定形式。根据{basis}的规定，本机关决定予以受理，受理编号为{number}。",
                basis = frame.acceptance_basis
            ))?;
            if let Some(promised) = decide_by {
                c.paragraph(&format!(
                    "本机关将于{}前作出决定{}。",
                    chinese_date(promised.date),
                    promised.basis_note()
                ))?;
            }
            c.paragraph("你（单位）可以凭受理编号或者扫描本通知书上的二维码查询办理进度。")?;
        }
        DocumentKind::CorrectionNotice {
            missing_materials,
            correct_by,
        } => {
            c.paragraph(&format!(
                "你（单位）提出的“{item}”申请（申请编号：{number}），经审查，申请材料不齐全或者不符合法定形式。根据{basis}的规定，现一次性告知你（单位）需要补正的全部内容：",
                basis = frame.correction_basis
            ))?;
            c.numbered(missing_materials)?;
            match correct_by {
                Some(date) => c.paragraph(&format!(
                    "请于{}前一次性补正上述全部材料。补正材料齐全、符合法定形式的，本机关将予以受理。",
                    chinese_date(*date)
                ))?,
                None => c.paragraph(
                    "请一次性补正上述全部材料。补正材料齐全、符合法定形式的，本机关将予以受理。",
                )?,
            }
        }
        DocumentKind::RejectionDecision { reasons } => {
            c.paragraph(&format!(
                "你（单位）提出的“{item}”申请（申请编号：{number}），经审查，因下列理由，根据{basis}的规定，本机关决定不予受理：",
                basis = frame.rejection_basis
            ))?;
            c.numbered(reasons)?;
            c.paragraph("如对本决定不服，可以依法申请行政复议或者提起行政诉讼。")?;
        }
        DocumentKind::ApprovalDecision { licence_number } => {
            c.paragraph(&format!(
                "你（单位）提出的“{item}”申请（受理编号：{number}），经审查，符合法定条件、标准。根据{basis}的规定，本机关决定{outcome}。",
                basis = frame.approval_basis,
                outcome = frame.approval_outcome
            ))?;
            if let Some(licence) = licence_number {
                c.paragraph(&format!(
                    "同时颁发许可证件，证照编号为{licence}。电子证照与纸质证照具有同等法律效力。"
                ))?;
            }
        }
        DocumentKind::DenialDecision { reasons, remedies } => {
            c.paragraph(&format!(
                "你（单位）提出的“{item}”申请（受理编号：{number}），经审查，因下列理由，根据{basis}的规定，本机关决定{outcome}：",
                basis = frame.denial_basis,
                outcome = frame.denial_outcome
            ))?;
            c.numbered(reasons)?;
            c.paragraph("你（单位）享有依法申请行政复议或者提起行政诉讼的权利：")?;
            c.numbered(remedies)?;
        }
        DocumentKind::Licence(_) => {}
    }
    for paragraph in &data.paragraphs {
        c.paragraph(paragraph)?;
    }
    c.gap(8.0);
    // Correction notices and rejections come before acceptance: they carry the application's
    // number, not an acceptance number.
    let number_label = match kind {
        DocumentKind::CorrectionNotice { .. } | DocumentKind::RejectionDecision { .. } => {
            "申请编号"
        }
        _ => "受理编号",
    };
    c.line(
        &format!("{number_label}：{}", data.acceptance_number),
        SMALL_SIZE,
        0.0,
    )?;
    c.wrapped(&format!("申请事项：{}", data.item_name), SMALL_SIZE, 18.0)?;
    c.wrapped(
        &format!(
            "申请人：{}　{}：{}",
            data.applicant.name,
            data.applicant.id.label(),
            data.applicant.id.value()
        ),
        SMALL_SIZE,
        18.0,
    )?;
    Ok(())
}

fn compose_licence(
    c: &mut Composer<'_>,
    kind: &DocumentKind,
    data: &DocumentData,
) -> Result<(), DocumentError> {
    let DocumentKind::Licence(licence) = kind else {
        return Ok(());
    };
    c.y = MARGIN_TOP + 10.0;
    c.centred(&licence.type_name, 30.0, 48.0)?;
    c.centred("（电子证照）", 12.0, 30.0)?;
    let validity = match licence.valid_to {
        Some(to) => format!(
            "自{}至{}",
            chinese_date(licence.valid_from),
            chinese_date(to)
        ),
        None => format!("自{}起长期有效", chinese_date(licence.valid_from)),
    };
    let mut rows: Vec<(String, String)> = vec![
        ("证照编号".into(), licence.number.clone()),
        ("持证主体".into(), licence.holder.clone()),
        (
            data.applicant.id.label().into(),
            data.applicant.id.value().into(),
        ),
        ("许可事项".into(), data.item_name.clone()),
        ("有效期限".into(), validity),
    ];
    rows.extend(licence.extra.iter().cloned());
    rows.extend([
        ("发证机关".into(), data.department.clone()),
        ("发证日期".into(), chinese_date(data.date)),
        ("受理编号".into(), data.acceptance_number.clone()),
        ("决定文号".into(), data.document_number.clone()),
    ]);
    c.table(&rows)?;
    for paragraph in &data.paragraphs {
        c.paragraph(paragraph)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Layout

#[derive(Debug, Clone)]
enum Item {
    Text {
        x: f32,
        baseline: f32,
        size: f32,
        text: String,
    },
    /// Black rectangles (x, y, w, h): rules and QR modules.
    Rects(Vec<(f32, f32, f32, f32)>),
}

#[derive(Debug, Default)]
struct LaidOutPage {
    items: Vec<Item>,
}

/// The seal's place: page, left edge, top (layout coordinates).
struct SealSpot {
    page: usize,
    x: f32,
    top: f32,
}

struct Composer<'f> {
    face: &'f ttf_parser::Face<'f>,
    pages: Vec<LaidOutPage>,
    /// Top of the next line, on the last page.
    y: f32,
}

/// Characters that must not begin a line (避头): they stay at the end of the previous one.
fn no_line_start(c: char) -> bool {
    "，。、；：？！）》」』】〕”’…—·,.;:?!)]}%".contains(c)
}

impl<'f> Composer<'f> {
    fn new(face: &'f ttf_parser::Face<'f>) -> Composer<'f> {
        Composer {
            face,
            pages: vec![LaidOutPage::default()],
            y: MARGIN_TOP,
        }
    }

    fn advance(&self, ch: char, size: f32) -> Result<f32, DocumentError> {
        let glyph = self
            .face
            .glyph_index(ch)
            .ok_or(DocumentError::MissingGlyph { ch })?;
        let advance = self.face.glyph_hor_advance(glyph).unwrap_or(0);
        Ok(f32::from(advance) * size / f32::from(self.face.units_per_em()))
    }

    fn width(&self, text: &str, size: f32) -> Result<f32, DocumentError> {
        text.chars().map(|c| self.advance(c, size)).sum()
    }

    /// Breaks `text` into lines no wider than `first` (the first line) and `rest` (the
    /// others), anywhere between characters except before a closing mark.
    fn wrap(
        &self,
        text: &str,
        size: f32,
        first: f32,
        rest: f32,
    ) -> Result<Vec<String>, DocumentError> {
        let mut lines = Vec::new();
        let mut line = String::new();
        let mut width = 0.0;
        for ch in text.chars() {
            if ch.is_control() {
                continue;
            }
            let advance = self.advance(ch, size)?;
            let limit = if lines.is_empty() { first } else { rest };
            if width + advance > limit && !line.is_empty() && !no_line_start(ch) {
                lines.push(std::mem::take(&mut line));
                width = 0.0;
            }
            line.push(ch);
            width += advance;
        }
        if !line.is_empty() || lines.is_empty() {
            lines.push(line);
        }
        Ok(lines)
    }

    fn page(&mut self) -> &mut LaidOutPage {
        if self.pages.is_empty() {
            self.pages.push(LaidOutPage::default());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Starts a new page unless `height` more fits on this one.
    fn ensure(&mut self, height: f32) {
        if self.y + height > PAGE_HEIGHT - MARGIN_BOTTOM {
            self.pages.push(LaidOutPage::default());
            self.y = MARGIN_TOP;
        }
    }

    fn gap(&mut self, height: f32) {
        self.y += height;
    }

    fn text_at(&mut self, x: f32, baseline: f32, size: f32, text: String) {
        self.page().items.push(Item::Text {
            x,
            baseline,
            size,
            text,
        });
    }

    /// One line at `x` from the left margin, `leading` high.
    fn line_with(
        &mut self,
        text: &str,
        size: f32,
        x: f32,
        leading: f32,
    ) -> Result<(), DocumentError> {
        self.width(text, size)?; // every glyph present
        self.ensure(leading);
        let baseline = self.y + (leading + size * 0.8) / 2.0;
        self.text_at(MARGIN_LEFT + x, baseline, size, text.to_owned());
        self.y += leading;
        Ok(())
    }

    fn line(&mut self, text: &str, size: f32, x: f32) -> Result<(), DocumentError> {
        self.line_with(text, size, x, size * 1.8)
    }

    fn centred(&mut self, text: &str, size: f32, leading: f32) -> Result<(), DocumentError> {
        let width = self.width(text, size)?;
        self.line_with(text, size, ((BODY_WIDTH - width) / 2.0).max(0.0), leading)
    }

    /// Lines of `text` at the left margin, wrapped to the body's width.
    fn wrapped(&mut self, text: &str, size: f32, leading: f32) -> Result<(), DocumentError> {
        for line in self.wrap(text, size, BODY_WIDTH, BODY_WIDTH)? {
            self.line_with(&line, size, 0.0, leading)?;
        }
        Ok(())
    }

    /// A body paragraph, its first line indented two characters; `\n` starts a new one.
    fn paragraph(&mut self, text: &str) -> Result<(), DocumentError> {
        for part in text.split('\n').filter(|p| !p.trim().is_empty()) {
            let indent = 2.0 * BODY_SIZE;
            let lines = self.wrap(part.trim(), BODY_SIZE, BODY_WIDTH - indent, BODY_WIDTH)?;
            for (i, line) in lines.iter().enumerate() {
                let x = if i == 0 { indent } else { 0.0 };
                self.line_with(line, BODY_SIZE, x, BODY_LEADING)?;
            }
        }
        Ok(())
    }

    /// `（一）…`, `（二）…`: one indented paragraph per entry, the continuation lines aligned
    /// under the text.
    fn numbered(&mut self, entries: &[String]) -> Result<(), DocumentError> {
        for (i, entry) in entries.iter().enumerate() {
            let label = format!("{}. ", i + 1);
            let indent = 2.0 * BODY_SIZE;
            let hang = self.width(&label, BODY_SIZE)?;
            let text = entry.replace('\n', " ");
            let lines = self.wrap(
                text.trim(),
                BODY_SIZE,
                BODY_WIDTH - indent - hang,
                BODY_WIDTH - indent - hang,
            )?;
            for (j, line) in lines.iter().enumerate() {
                self.ensure(BODY_LEADING);
                if j == 0 {
                    let baseline = self.y + (BODY_LEADING + BODY_SIZE * 0.8) / 2.0;
                    self.text_at(MARGIN_LEFT + indent, baseline, BODY_SIZE, label.clone());
                }
                self.line_with(line, BODY_SIZE, indent + hang, BODY_LEADING)?;
            }
        }
        Ok(())
    }

    fn rule(&mut self, x: f32, y: f32, width: f32, thickness: f32) {
        self.page().items.push(Item::Rects(vec![(
            x,
            y - thickness / 2.0,
            width,
            thickness,
        )]));
    }

    /// Department, title, document number, a rule.
    fn header(&mut self, data: &DocumentData, title: &str) -> Result<(), DocumentError> {
        self.centred(&data.department, 20.0, 32.0)?;
        self.centred(title, 26.0, 40.0)?;
        self.centred(&data.document_number, 14.0, 26.0)?;
        let y = self.y + 6.0;
        self.rule(MARGIN_LEFT, y, BODY_WIDTH, 1.0);
        self.y = y + 18.0;
        Ok(())
    }

    /// Label | value rows with rules between them.
    fn table(&mut self, rows: &[(String, String)]) -> Result<(), DocumentError> {
        const LABEL_WIDTH: f32 = 136.0;
        const PADDING: f32 = 5.0;
        const LEADING: f32 = 22.0;
        let value_width = BODY_WIDTH - LABEL_WIDTH - 2.0 * PADDING;
        self.ensure(LEADING);
        let top = self.y;
        self.rule(MARGIN_LEFT, top, BODY_WIDTH, 0.8);
        for (label, value) in rows {
            let lines = self.wrap(value, BODY_SIZE, value_width, value_width)?;
            let height = lines.len() as f32 * LEADING + 2.0 * PADDING;
            let before = self.pages.len();
            self.ensure(height);
            if self.pages.len() != before {
                self.rule(MARGIN_LEFT, self.y, BODY_WIDTH, 0.8);
            }
            let row_top = self.y;
            let label_width = self.width(label, BODY_SIZE)?;
            let label_baseline = row_top + PADDING + (LEADING + BODY_SIZE * 0.8) / 2.0;
            self.text_at(
                MARGIN_LEFT + (LABEL_WIDTH - label_width) / 2.0,
                label_baseline,
                BODY_SIZE,
                label.clone(),
            );
            for (i, line) in lines.into_iter().enumerate() {
                let baseline = label_baseline + i as f32 * LEADING;
                self.text_at(
                    MARGIN_LEFT + LABEL_WIDTH + PADDING,
                    baseline,
                    BODY_SIZE,
                    line,
                );
            }
            self.y = row_top + height;
            self.rule(MARGIN_LEFT, self.y, BODY_WIDTH, 0.8);
            // The column rule of this row.
            self.page().items.push(Item::Rects(vec![(
                MARGIN_LEFT + LABEL_WIDTH - 0.25,
                row_top,
                0.5,
                height,
            )]));
        }
        self.y += 12.0;
        Ok(())
    }

    /// The QR code with the URL under it at the left, the department and the date at the right
    /// with the seal's place over them (GB/T 9704: the seal presses down on the signature and
    /// the date, which sit a little below its centre).
    fn signature_block(&mut self, data: &DocumentData) -> Result<SealSpot, DocumentError> {
        const URL_WIDTH: f32 = 190.0;
        let url_lines = self.wrap(&data.verification_url, URL_SIZE, URL_WIDTH, URL_WIDTH)?;
        let caption = "扫码核验";
        let qr_height = QR_SIZE + 14.0 + url_lines.len() as f32 * (URL_SIZE * 1.3);
        const GAP: f32 = 14.0;
        let height = qr_height.max(SEAL_DIAMETER_PT);
        if self.y + GAP + height > SIGNATURE_BOTTOM {
            self.pages.push(LaidOutPage::default());
            self.y = MARGIN_TOP;
        }
        let top = self.y + GAP;

        // Right column: the date ends four characters from the right margin, the department's
        // name is centred over it.
        let date = chinese_date(data.date);
        let date_width = self.width(&date, BODY_SIZE)?;
        let date_x = PAGE_WIDTH - MARGIN_RIGHT - 4.0 * BODY_SIZE - date_width;
        let column_centre = date_x + date_width / 2.0;
        let name_width = self.width(&data.department, BODY_SIZE)?;
        let name_x = (column_centre - name_width / 2.0)
            .min(PAGE_WIDTH - MARGIN_RIGHT - name_width)
            .max(MARGIN_LEFT + URL_WIDTH);
        let seal_centre_y = top + SEAL_DIAMETER_PT / 2.0;
        self.text_at(
            name_x,
            seal_centre_y + 6.0,
            BODY_SIZE,
            data.department.clone(),
        );
        self.text_at(date_x, seal_centre_y + 30.0, BODY_SIZE, date);
        let seal_x = column_centre - SEAL_DIAMETER_PT / 2.0;

        // Left: the QR code.
        let qr = qr_modules(&data.verification_url, MARGIN_LEFT, top, QR_SIZE)?;
        self.page().items.push(Item::Rects(qr));
        let mut baseline = top + QR_SIZE + 11.0;
        let caption_width = self.width(caption, 9.0)?;
        self.text_at(
            MARGIN_LEFT + (QR_SIZE - caption_width) / 2.0,
            baseline,
            9.0,
            caption.to_owned(),
        );
        for line in url_lines {
            baseline += URL_SIZE * 1.3;
            self.text_at(MARGIN_LEFT, baseline, URL_SIZE, line);
        }
        self.y = top + height;
        Ok(SealSpot {
            page: self.pages.len() - 1,
            x: seal_x,
            top,
        })
    }

    /// `— n / N —` at the foot of every page of a multi-page document.
    fn page_numbers(&mut self) -> Result<(), DocumentError> {
        let total = self.pages.len();
        if total < 2 {
            return Ok(());
        }
        for index in 0..total {
            let text = format!("第{}页 共{}页", index + 1, total);
            let width = self.width(&text, 9.0)?;
            self.pages[index].items.push(Item::Text {
                x: (PAGE_WIDTH - width) / 2.0,
                baseline: PAGE_HEIGHT - MARGIN_BOTTOM / 2.0,
                size: 9.0,
                text,
            });
        }
        Ok(())
    }
}

/// The QR code of `url` as one black rectangle per run of dark modules in a row, its top left
/// at (`x`, `y`), `size` points across including the quiet zone.
fn qr_modules(
    url: &str,
    x: f32,
    y: f32,
    size: f32,
) -> Result<Vec<(f32, f32, f32, f32)>, DocumentError> {
    let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| DocumentError::InvalidData(format!("verification URL: QR code: {e}")))?;
    let width = code.width();
    let dark: Vec<bool> = code
        .to_colors()
        .into_iter()
        .map(|c| c == qrcode::Color::Dark)
        .collect();
    const QUIET: usize = 2;
    let module = size / (width + 2 * QUIET) as f32;
    let mut rects = Vec::new();
    for row in 0..width {
        let mut col = 0;
        while col < width {
            if dark[row * width + col] {
                let start = col;
                while col < width && dark[row * width + col] {
                    col += 1;
                }
                rects.push((
                    x + (start + QUIET) as f32 * module,
                    y + (row + QUIET) as f32 * module,
                    (col - start) as f32 * module,
                    module,
                ));
            } else {
                col += 1;
            }
        }
    }
    Ok(rects)
}

// ---------------------------------------------------------------------------------------------
// Painting

fn black() -> Fill {
    Fill {
        paint: rgb::Color::new(0, 0, 0).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }
}

fn paint_item(surface: &mut Surface<'_>, font: &krilla::text::Font, item: &Item) {
    match item {
        Item::Text {
            x,
            baseline,
            size,
            text,
        } => {
            surface.set_fill(Some(black()));
            surface.set_stroke(None);
            surface.draw_text(
                Point::from_xy(*x, *baseline),
                font.clone(),
                *size,
                text,
                false,
                TextDirection::Auto,
            );
        }
        Item::Rects(rects) => {
            let mut builder = PathBuilder::new();
            for &(x, y, w, h) in rects {
                if let Some(rect) = Rect::from_xywh(x, y, w, h) {
                    builder.push_rect(rect);
                }
            }
            if let Some(path) = builder.finish() {
                surface.set_fill(Some(black()));
                surface.set_stroke(None);
                surface.draw_path(&path);
            }
        }
    }
}

/// Draws `image` with its box's top left at (`x`, `top`), flipping its y-up coordinates.
fn paint_seal(surface: &mut Surface<'_>, image: &SealImage, x: f32, top: f32) {
    let [r, g, b] = image.color();
    let colour = rgb::Color::new(r, g, b);
    surface.push_blend_mode(BlendMode::Multiply);
    surface.push_transform(&Transform::from_row(
        1.0,
        0.0,
        0.0,
        -1.0,
        x,
        top + image.size(),
    ));
    for shape in image.shapes() {
        let mut builder = PathBuilder::new();
        for op in &shape.ops {
            match *op {
                PathOp::MoveTo(x, y) => builder.move_to(x, y),
                PathOp::LineTo(x, y) => builder.line_to(x, y),
                PathOp::CubicTo(x1, y1, x2, y2, x, y) => builder.cubic_to(x1, y1, x2, y2, x, y),
                PathOp::Close => builder.close(),
            }
        }
        let Some(path) = builder.finish() else {
            continue;
        };
        match shape.paint {
            Paint::Fill => {
                surface.set_stroke(None);
                surface.set_fill(Some(Fill {
                    paint: colour.into(),
                    opacity: NormalizedF32::ONE,
                    rule: FillRule::NonZero,
                }));
            }
            Paint::Stroke(width) => {
                surface.set_fill(None);
                surface.set_stroke(Some(Stroke {
                    paint: colour.into(),
                    width,
                    ..Stroke::default()
                }));
            }
        }
        surface.draw_path(&path);
    }
    surface.pop();
    surface.pop();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_modules_stay_inside_their_square() {
        let rects = qr_modules("https://example.gov.cn/v/ABC", 10.0, 20.0, 84.0).unwrap();
        assert!(!rects.is_empty());
        for (x, y, w, h) in rects {
            assert!(x >= 10.0 && y >= 20.0 && w > 0.0 && h > 0.0);
            assert!(x + w <= 94.0 + 1e-3 && y + h <= 104.0 + 1e-3);
        }
    }

    #[test]
    fn closing_marks_never_start_a_line() {
        assert!(no_line_start('，') && no_line_start('。') && no_line_start('）'));
        assert!(!no_line_start('中') && !no_line_start('（'));
    }
}
