//! Grader checks for week 11: convolution, max-pooling, augmentation and the CNN.
//!
//! References: candle's own `conv2d` and `max_pool2d` (an independent implementation), small
//! cases worked by hand, and the test split of MNIST-10k for the accuracy floor.

use candle_core::{Device, Tensor};
use grader::{
    Called, Failure, Outcome, Tol, check, close, close_array, ensure, expect_err, tensor_values,
};
use ndarray::{ArrayD, IxDyn};
use wb_data::SplitMix64;
use week11_cnn::augment::{Augmentation, rotate, shift};
use week11_cnn::conv::{conv2d_direct, conv2d_im2col, im2col, max_pool2d};
use week11_cnn::data::{self, Which};
use week11_cnn::model::{self, Cnn, TrainConfig, accuracy, predict};

fn random(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = SplitMix64::new(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.next_f64() as f32 * 2.0 - 1.0).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).expect("a tensor")
}

/// (x shape, kernel shape, stride, padding): square and non-square, 1 to 3 channels, stride 1 and
/// 2, padding 0 to 2, kernels 1 × 1 to 5 × 3.
const CASES: [([usize; 4], [usize; 4], usize, usize); 5] = [
    ([1, 1, 5, 5], [1, 1, 3, 3], 1, 0),
    ([2, 3, 9, 7], [4, 3, 3, 3], 2, 1),
    ([1, 2, 8, 8], [3, 2, 5, 3], 1, 2),
    ([3, 1, 6, 6], [2, 1, 1, 1], 1, 0),
    ([1, 3, 10, 10], [5, 3, 4, 4], 3, 2),
];

fn against_candle(
    f: fn(&Tensor, &Tensor, usize, usize) -> week11_cnn::Result<Tensor>,
    name: &str,
) -> Outcome {
    for (k, (xs, ws, stride, padding)) in CASES.iter().enumerate() {
        let x = random(xs, 10 + k as u64);
        let w = random(ws, 20 + k as u64);
        let expected = x
            .conv2d(&w, *padding, *stride, 1, 1)
            .called("candle's conv2d")?;
        let got = f(&x, &w, *stride, *padding).called(name)?;
        close_array(
            &format!(
                "{name}: x {xs:?}, kernels {ws:?}, stride {stride}, padding {padding} (vs candle's conv2d)"
            ),
            tensor_values(&expected)?.view(),
            tensor_values(&got)?.view(),
            Tol::abs(1e-5),
        )?;
    }
    Ok(())
}

check! {
    fn conv2d_direct_matches_a_hand_worked_case_and_candle(exercise = "direct") {
        // x = 1..9 in a 3 × 3 image, a 2 × 2 kernel of ones: each output sums a 2 × 2 window.
        let x = Tensor::from_vec(
            (1..=9).map(|v| v as f32).collect::<Vec<_>>(),
            (1, 1, 3, 3),
            &Device::Cpu,
        )
        .called("a tensor")?;
        let w =
            Tensor::ones((1, 1, 2, 2), candle_core::DType::F32, &Device::Cpu).called("a tensor")?;
        let got = conv2d_direct(&x, &w, 1, 0).called("conv2d_direct")?;
        let expected = ArrayD::from_shape_vec(IxDyn(&[1, 1, 2, 2]), vec![12.0, 16.0, 24.0, 28.0])
            .map_err(|e| Failure::new("shape", e.to_string()))?;
        close_array(
            "2 × 2 window sums of 1..9",
            expected.view(),
            tensor_values(&got)?.view(),
            Tol::abs(1e-6),
        )?;
        // With padding 1, the corner output sees only x[0, 0] = 1 under the kernel's last cell.
        let got = conv2d_direct(&x, &w, 1, 1).called("conv2d_direct with padding")?;
        let a = tensor_values(&got)?;
        ensure(
            a.shape() == [1, 1, 4, 4],
            "output shape with padding 1",
            format!("expected [1, 1, 4, 4], got {:?}", a.shape()),
        )?;
        close(
            "corner value with padding 1",
            1.0,
            a[[0, 0, 0, 0]],
            Tol::abs(1e-6),
        )?;
        against_candle(conv2d_direct, "conv2d_direct")
    }
}

check! {
    fn im2col_rows_are_the_patches(exercise = "im2col") {
        // Two channels of a 3 × 3 image (1..9 and 10..18), 2 × 2 kernels, stride 1, no padding:
        // 4 positions, each row = channel 0's window then channel 1's window.
        let x = Tensor::from_vec((1..=18).map(|v| v as f32).collect::<Vec<_>>(), (1, 2, 3, 3), &Device::Cpu)
            .called("a tensor")?;
        let got = im2col(&x, 2, 2, 1, 0).called("im2col")?;
        #[rustfmt::skip]
        let expected = vec![
            1.0, 2.0, 4.0, 5.0, 10.0, 11.0, 13.0, 14.0,
            2.0, 3.0, 5.0, 6.0, 11.0, 12.0, 14.0, 15.0,
            4.0, 5.0, 7.0, 8.0, 13.0, 14.0, 16.0, 17.0,
            5.0, 6.0, 8.0, 9.0, 14.0, 15.0, 17.0, 18.0,
        ];
        let expected = ArrayD::from_shape_vec(IxDyn(&[4, 8]), expected).map_err(|e| Failure::new("shape", e.to_string()))?;
        close_array("im2col of a [1, 2, 3, 3] image, 2 × 2 kernels", expected.view(), tensor_values(&got)?.view(), Tol::abs(0.0))?;
        // Padding 1, stride 2: the first row's patch starts in the padding (zeros) top-left.
        let got = tensor_values(&im2col(&x, 2, 2, 2, 1).called("im2col with padding 1, stride 2")?)?;
        ensure(got.shape() == [4, 8], "shape with padding 1, stride 2", format!("expected [4, 8], got {:?}", got.shape()))?;
        let row0: Vec<f64> = (0..8).map(|c| got[[0, c]]).collect();
        ensure(
            row0 == [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 10.0],
            "first patch with padding 1",
            format!("expected [0, 0, 0, 1, 0, 0, 0, 10] (three zeros of padding, then x[0, 0]), got {row0:?}"),
        )
    }
}

check! {
    fn conv2d_im2col_matches_candle(exercise = "im2col_matmul") {
        against_candle(conv2d_im2col, "conv2d_im2col")
    }
}

check! {
    fn max_pool_matches_candle(exercise = "maxpool") {
        for (k, (shape, size, stride)) in [
            ([2, 3, 8, 8], 2, 2),
            ([1, 2, 7, 9], 3, 2),
            ([1, 1, 5, 5], 2, 1),
        ]
        .iter()
        .enumerate()
        {
            let x = random(shape, 40 + k as u64);
            let expected = x
                .max_pool2d_with_stride(*size, *stride)
                .called("candle's max_pool2d")?;
            let got = max_pool2d(&x, *size, *stride).called("max_pool2d")?;
            close_array(
                &format!("max_pool2d of {shape:?}, window {size}, stride {stride} (vs candle)"),
                tensor_values(&expected)?.view(),
                tensor_values(&got)?.view(),
                Tol::abs(0.0),
            )?;
        }
        Ok(())
    }
}

check! {
    fn bad_image_tensors_are_refused_with_a_message(exercise = "direct") {
        let x = random(&[1, 3, 6, 6], 1);
        let w = random(&[2, 3, 3, 3], 2);
        let ok = conv2d_direct(&x, &w, 1, 0).called("conv2d_direct on valid input")?;
        ensure(
            ok.dims() == [1, 2, 4, 4],
            "valid input still works",
            format!("expected [1, 2, 4, 4], got {:?}", ok.dims()),
        )?;
        let e = expect_err(
            "an image of rank 3",
            conv2d_direct(&random(&[3, 6, 6], 3), &w, 1, 0),
        )?;
        ensure(
            e.contains("rank 4"),
            "the rank error names the expected rank",
            e.clone(),
        )?;
        let e = expect_err(
            "kernels with 2 input channels for a 3-channel image",
            conv2d_direct(&x, &random(&[2, 2, 3, 3], 4), 1, 0),
        )?;
        ensure(
            e.contains("kernels") && e.contains('3'),
            "the channel error names the kernels and the channels",
            e.clone(),
        )?;
        expect_err(
            "a 7 × 7 kernel on a 6 × 6 image",
            conv2d_direct(&x, &random(&[1, 3, 7, 7], 5), 1, 0),
        )?;
        expect_err("stride 0", conv2d_direct(&x, &w, 0, 0))?;
        expect_err(
            "a pooling window larger than the image",
            max_pool2d(&x, 7, 1),
        )?;
        let vm = candle_nn::VarMap::new();
        let cnn = Cnn::new(&vm, 0, &Device::Cpu).called("Cnn::new")?;
        let e = expect_err(
            "a CNN input of 32 × 32 RGB images",
            cnn.forward(&random(&[2, 3, 32, 32], 6)),
        )?;
        ensure(
            e.contains("[n, 1, 28, 28]"),
            "the CNN's error says what it expects",
            e,
        )
    }
}

check! {
    fn shift_moves_pixels_and_fills_with_background(exercise = "shift") {
        // 3 × 2 image (width 3): [1 2 3; 4 5 6]. Right 1, up 1: only the bottom row moves up.
        let img = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let got = shift(&img, 3, 2, 1, -1).called("shift")?;
        ensure(
            got == [0.0, 4.0, 5.0, 0.0, 0.0, 0.0],
            "shift right 1, up 1",
            format!("expected [0, 4, 5, 0, 0, 0], got {got:?}"),
        )?;
        let got = shift(&img, 3, 2, -2, 1).called("shift")?;
        ensure(
            got == [0.0, 0.0, 0.0, 3.0, 0.0, 0.0],
            "shift left 2, down 1",
            format!("expected [0, 0, 0, 3, 0, 0], got {got:?}"),
        )?;
        let got = shift(&img, 3, 2, 0, 0).called("shift")?;
        ensure(
            got == img,
            "no shift",
            format!("expected the image itself, got {got:?}"),
        )?;
        expect_err("5 pixels for a 3 × 2 image", shift(&img[..5], 3, 2, 1, 0)).map(|_| ())
    }
}

check! {
    fn rotate_turns_by_exact_right_angles_and_keeps_the_centre(exercise = "rotate") {
        // 3 × 3 image 1..9. A quarter turn counter-clockwise (on screen) puts the right column on top.
        let img: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let got = rotate(&img, 3, 3, 90.0).called("rotate by 90°")?;
        let expected = [3.0, 6.0, 9.0, 2.0, 5.0, 8.0, 1.0, 4.0, 7.0];
        for (i, (&e, &g)) in expected.iter().zip(&got).enumerate() {
            close(
                &format!("pixel {i} after a 90° turn"),
                e,
                f64::from(g),
                Tol::abs(1e-4),
            )?;
        }
        let got = rotate(&img, 3, 3, 180.0).called("rotate by 180°")?;
        for (i, &g) in got.iter().enumerate() {
            close(
                &format!("pixel {i} after a half turn"),
                (9 - i) as f64,
                f64::from(g),
                Tol::abs(1e-4),
            )?;
        }
        let got = rotate(&img, 3, 3, 0.0).called("rotate by 0°")?;
        ensure(
            got == img,
            "a turn of 0° changes nothing",
            format!("got {got:?}"),
        )?;
        // 45°: the centre stays; a corner pixel's source falls outside → 0 weight from outside.
        let got = rotate(&img, 3, 3, 45.0).called("rotate by 45°")?;
        close(
            "the centre after 45°",
            5.0,
            f64::from(got[4]),
            Tol::abs(1e-5),
        )?;
        // Bilinear by hand: output (row 0, column 1) has offset (x, y) = (0, −1) from the centre;
        // its source is (x cos − y sin, x sin + y cos) + (1, 1) = (1.707, 0.293), between pixels
        // 2, 3 (row 0) and 5, 6 (row 1), with fx = 0.707 and fy = 0.293.
        let (fx, fy) = (0.5f64.sqrt(), 1.0 - 0.5f64.sqrt());
        let want = 2.0 * (1.0 - fx) * (1.0 - fy)
            + 3.0 * fx * (1.0 - fy)
            + 5.0 * (1.0 - fx) * fy
            + 6.0 * fx * fy;
        close(
            "the top-middle pixel after 45° (bilinear)",
            want,
            f64::from(got[1]),
            Tol::abs(1e-4),
        )
    }
}

check! {
    fn the_cnn_passes_97_percent_on_mnist_test_split(exercise = "forward", timeout_s = 600) {
        let (train, test) = data::load(Which::Mnist).called("loading mnist-10k")?;
        ensure(
            test.len() == 2_000,
            "the test split",
            format!("expected 2,000 images, got {}", test.len()),
        )?;
        let trained = model::train(&train, &test, &TrainConfig::default())
            .called("model::train with the default configuration")?;
        let pred = predict(&trained.model, &test, &Device::Cpu).called("predict")?;
        let acc = accuracy(&test.labels, &pred);
        ensure(
            acc >= 0.97,
            "test accuracy after the lab's default training (5 epochs)",
            format!("expected at least 97.00 %, got {:.2} %", 100.0 * acc),
        )
    }
}

check! {
    fn augmentation_helps_with_1000_training_images(exercise = "rotate", timeout_s = 600) {
        let (train, test) = data::load(Which::Mnist).called("loading mnist-10k")?;
        let small = train.head(1_000);
        let cfg = TrainConfig {
            epochs: 12,
            batch_size: 32,
            ..TrainConfig::default()
        };
        let plain = model::train(&small, &test, &cfg).called("training on 1,000 images")?;
        let aug = model::train(
            &small,
            &test,
            &TrainConfig {
                augmentation: Some(Augmentation::default()),
                ..cfg
            },
        )
        .called("training on 1,000 images with augmentation")?;
        ensure(
            aug.test_accuracy >= plain.test_accuracy + 0.005,
            "augmentation (shifts ±2, rotations ±10°, noise 0.1) on 1,000 images, 12 epochs",
            format!(
                "expected at least 0.5 points above {:.2} % (no augmentation), got {:.2} %",
                100.0 * plain.test_accuracy,
                100.0 * aug.test_accuracy
            ),
        )
    }
}
