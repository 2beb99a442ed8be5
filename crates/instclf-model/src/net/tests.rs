use super::*;

#[test]
fn glorot_init_is_seeded_and_bounded() {
    let arch = Architecture {
        n_features: 12,
        hidden: vec![8, 6],
        n_classes: 3,
        activation: Activation::Relu,
        conv: None,
        gru: None,
    };
    let a = Mlp::new(&arch, 7, &Device::Cpu).unwrap();
    let b = Mlp::new(&arch, 7, &Device::Cpu).unwrap();
    let c = Mlp::new(&arch, 8, &Device::Cpu).unwrap();
    let w = |m: &Mlp| {
        m.layers[0]
            .kernel
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    assert_eq!(w(&a), w(&b));
    assert_ne!(w(&a), w(&c));
    let limit = (6.0f32 / 20.0).sqrt();
    assert!(w(&a).iter().all(|v| v.abs() <= limit));
    assert_eq!(a.layers.len(), 3);
    assert_eq!(a.layers[2].kernel.dims(), &[6, 3]);
    let bias = a.layers[1].bias.as_tensor().to_vec1::<f32>().unwrap();
    assert!(bias.iter().all(|&v| v == 0.0));
    let x = Tensor::zeros((5, 12), DType::F32, &Device::Cpu).unwrap();
    assert_eq!(a.forward(&x).unwrap().dims(), &[5, 3]);
    assert!("tanh".parse::<Activation>().is_err());
}

/// The fused CPU kernels give the tensor path's loss, gradients and count: bit for bit with
/// relu, and to float rounding with sigmoid (whose exponential is a polynomial's).
#[test]
fn fused_step_equals_the_tensor_path() {
    for act in [Activation::Sigmoid, Activation::Relu] {
        let arch = Architecture {
            n_features: 11,
            hidden: vec![13, 6],
            n_classes: 5,
            activation: act,
            conv: None,
            gru: None,
        };
        let dev = Device::Cpu;
        let net = Mlp::new(&arch, 9, &dev).unwrap();
        let x = Tensor::randn(0f32, 2.0, (17, 11), &dev).unwrap();
        let yv: Vec<u32> = (0..17).map(|i| (i * 7 % 5) as u32).collect();
        let y = Tensor::new(yv.as_slice(), &dev).unwrap();
        let onehot = candle_nn::encoding::one_hot(y.clone(), 5, 1f32, 0f32).unwrap();
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let (gf, lf, cf) = net
            .loss_and_grads_with(&x, &y, &onehot, true, false)
            .unwrap();
        let (gp, lp, cp) = net
            .loss_and_grads_with(&x, &y, &onehot, false, false)
            .unwrap();
        let same = |f: Vec<f32>, p: Vec<f32>| {
            if act == Activation::Relu {
                assert_eq!(f, p);
            } else {
                let scale = p.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
                for (a, b) in f.iter().zip(&p) {
                    assert!((a - b).abs() <= 1e-5 * scale, "{a} vs {b}");
                }
            }
        };
        same(flat(&lf), flat(&lp));
        assert_eq!(flat(&cf), flat(&cp));
        for v in net.vars() {
            let (f, p) = (
                gf.get(v.as_tensor()).unwrap(),
                gp.get(v.as_tensor()).unwrap(),
            );
            same(flat(f), flat(p));
        }
    }
}

/// Weighted targets: rows that sum to 1 give the plain gradients, and a batch whose every
/// row is scaled by 3 gives three times the gradients; one row scaled by 0 drops out.
#[test]
fn weighted_targets_scale_their_rows_gradients() {
    let arch = Architecture {
        n_features: 7,
        hidden: vec![9],
        n_classes: 4,
        activation: Activation::Relu,
        conv: None,
        gru: None,
    };
    let dev = Device::Cpu;
    let net = Mlp::new(&arch, 3, &dev).unwrap();
    let x = Tensor::randn(0f32, 1.0, (6, 7), &dev).unwrap();
    let yv: Vec<u32> = vec![0, 1, 2, 3, 1, 2];
    let y = Tensor::new(yv.as_slice(), &dev).unwrap();
    let onehot = candle_nn::encoding::one_hot(y.clone(), 4, 1f32, 0f32).unwrap();
    let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let grads = |g: &GradStore| -> Vec<f32> {
        net.vars()
            .iter()
            .flat_map(|v| flat(g.get(v.as_tensor()).unwrap()))
            .collect()
    };
    let close = |a: &[f32], b: &[f32]| {
        for (p, q) in a.iter().zip(b) {
            assert!((p - q).abs() <= 1e-5 * (1.0 + q.abs()), "{p} vs {q}");
        }
    };
    let (g1, l1, _) = net.loss_and_grads(&x, &y, &onehot).unwrap();
    let (gw, lw, _) = net.loss_and_grads_weighted(&x, &y, &onehot).unwrap();
    close(&grads(&gw), &grads(&g1));
    close(&flat(&lw), &flat(&l1));
    let (g3, l3, _) = net
        .loss_and_grads_weighted(&x, &y, &(&onehot * 3.0).unwrap())
        .unwrap();
    let tripled: Vec<f32> = grads(&g1).iter().map(|v| 3.0 * v).collect();
    close(&grads(&g3), &tripled);
    close(&flat(&l3), &[3.0 * flat(&l1)[0]]);
    // The last row weighed 0: the gradients of the first five rows alone (over a batch of 6).
    let mask = Tensor::new(&[[1f32], [1.], [1.], [1.], [1.], [0.]], &dev).unwrap();
    let (g0, _, _) = net
        .loss_and_grads_weighted(&x, &y, &onehot.broadcast_mul(&mask).unwrap())
        .unwrap();
    let (g5, _, _) = net
        .loss_and_grads(
            &x.narrow(0, 0, 5).unwrap(),
            &y.narrow(0, 0, 5).unwrap(),
            &onehot.narrow(0, 0, 5).unwrap(),
        )
        .unwrap();
    let scaled: Vec<f32> = grads(&g5).iter().map(|v| v * 5.0 / 6.0).collect();
    close(&grads(&g0), &scaled);
}

#[test]
fn hand_written_gradients_match_autograd() {
    // 6 rows: one pass; 70 rows: two halves (SPLIT_ROWS) whose gradients are added. With a
    // convolution or a GRU over the last 12 of 14 inputs (4 steps of 3), and without.
    let conv = Conv {
        steps: 4,
        channels: 3,
        kernel: 2,
        filters: 5,
    };
    let gru = Gru {
        steps: 4,
        channels: 3,
        units: 5,
    };
    for (act, rows, conv, gru) in [
        (Activation::Sigmoid, 6, None, None),
        (Activation::Relu, 6, None, None),
        (Activation::Sigmoid, 70, None, None),
        (Activation::Relu, 70, None, None),
        (Activation::Sigmoid, 6, Some(conv), None),
        (Activation::Relu, 70, Some(conv), None),
        (Activation::Sigmoid, 6, None, Some(gru)),
        (Activation::Relu, 70, None, Some(gru)),
    ] {
        let nf = 14;
        let arch = Architecture {
            n_features: nf,
            hidden: vec![9, 5],
            n_classes: 4,
            activation: act,
            conv,
            gru,
        };
        let net = Mlp::new(&arch, 3, &Device::Cpu).unwrap();
        let xs: Vec<f32> = (0..rows * nf)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) / 3.0)
            .collect();
        let x = Tensor::from_vec(xs, (rows, nf), &Device::Cpu).unwrap();
        let yv: Vec<u32> = (0..rows).map(|r| (r * 5 % 4) as u32).collect();
        let y = Tensor::new(yv.as_slice(), &Device::Cpu).unwrap();
        let onehot = candle_nn::encoding::one_hot(y.clone(), 4, 1f32, 0f32).unwrap();
        let (grads, loss_sum, _) = net.loss_and_grads(&x, &y, &onehot).unwrap();
        // The forward pass as a gradient graph over the network's variables.
        let activate = |h: &Tensor| match act {
            Activation::Sigmoid => candle_nn::ops::sigmoid(h).unwrap(),
            Activation::Relu => h.relu().unwrap(),
        };
        let mut h = match (&conv, &net.conv) {
            (Some(c), Some(l)) => {
                // Each position's patch by hand: inputs 2 + 3p .. 2 + 3p + 6.
                let pooled = (0..c.positions())
                    .map(|p| {
                        let patch = x.narrow(1, 2 + 3 * p, 6).unwrap();
                        activate(
                            &patch
                                .matmul(l.kernel.as_tensor())
                                .unwrap()
                                .broadcast_add(l.bias.as_tensor())
                                .unwrap(),
                        )
                    })
                    .reduce(|a, b| (a + b).unwrap())
                    .unwrap();
                let pooled = (pooled / c.positions() as f64).unwrap();
                Tensor::cat(&[&x.narrow(1, 0, 2).unwrap(), &pooled], 1).unwrap()
            }
            _ => match (&gru, &net.gru) {
                (Some(g), Some(w)) => {
                    let w = [&w.input.0, &w.input.1, &w.recurrent.0, &w.recurrent.1];
                    let last = crate::gru::tests::autograd_last(g, &x, &w.map(|v| v.clone()));
                    Tensor::cat(&[&x.narrow(1, 0, 2).unwrap(), &last], 1).unwrap()
                }
                _ => x.clone(),
            },
        };
        for (i, l) in net.layers.iter().enumerate() {
            h = h
                .matmul(l.kernel.as_tensor())
                .unwrap()
                .broadcast_add(l.bias.as_tensor())
                .unwrap();
            if i + 1 < net.layers.len() {
                h = activate(&h);
            }
        }
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for (p, q) in flat(&h).iter().zip(flat(&net.forward(&x).unwrap())) {
            assert!((p - q).abs() < 1e-6, "{act}: logits {p} vs {q}");
        }
        let loss = candle_nn::loss::cross_entropy(&h, &y).unwrap();
        let auto = loss.backward().unwrap();
        let l1 = loss_sum.to_scalar::<f32>().unwrap() / rows as f32;
        assert!((l1 - loss.to_scalar::<f32>().unwrap()).abs() < 1e-5);
        let front = 2 * usize::from(conv.is_some()) + 4 * usize::from(gru.is_some());
        assert_eq!(net.vars().len(), 6 + front);
        for v in net.vars() {
            let a = flat(auto.get(v.as_tensor()).unwrap());
            let h = flat(grads.get(v.as_tensor()).unwrap());
            assert_eq!(a.len(), h.len());
            for (p, q) in a.iter().zip(&h) {
                assert!((p - q).abs() < 1e-5, "{act}, {rows} rows: {p} vs {q}");
            }
        }
    }
}

#[test]
fn a_convolution_must_fit_its_input() {
    let arch = |steps, kernel| Architecture {
        n_features: 10,
        hidden: vec![4],
        n_classes: 2,
        activation: Activation::Relu,
        gru: None,
        conv: Some(Conv {
            steps,
            channels: 3,
            kernel,
            filters: 2,
        }),
    };
    assert!(arch(3, 2).validate().is_ok());
    assert_eq!(arch(3, 2).dense_inputs(), 1 + 2);
    assert!(arch(4, 2).validate().is_err()); // 12 values of window, 10 inputs
    assert!(arch(2, 3).validate().is_err()); // kernel longer than the window
}
