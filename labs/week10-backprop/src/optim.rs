//! Optimisers: how a gradient becomes a step. Each is a small type with a `step` that updates a
//! parameter vector in place, with PyTorch's conventions.

use ndarray::Array1;

/// One optimiser.
pub trait Optimizer {
    /// Updates `params` from `grads` (same length).
    fn step(&mut self, params: &mut Array1<f64>, grads: &Array1<f64>);
    fn name(&self) -> String;
    fn learning_rate(&self) -> f64;
}

fn zeros_like(v: &mut Option<Array1<f64>>, n: usize) -> &mut Array1<f64> {
    v.get_or_insert_with(|| Array1::zeros(n))
}

/// Plain gradient descent: p ← p − lr·g.
pub struct Sgd {
    pub lr: f64,
}
/// Heavy-ball momentum: v ← βv + g; p ← p − lr·v.
pub struct Momentum {
    pub lr: f64,
    pub beta: f64,
    pub v: Option<Array1<f64>>,
}
/// Nesterov momentum: v ← βv + g; p ← p − lr·(g + βv) (a look-ahead at where momentum goes).
pub struct Nesterov {
    pub lr: f64,
    pub beta: f64,
    pub v: Option<Array1<f64>>,
}
/// RMSProp: s ← ρs + (1 − ρ)g²; p ← p − lr·g/(√s + ε): a step size per parameter.
pub struct RmsProp {
    pub lr: f64,
    pub rho: f64,
    pub eps: f64,
    pub s: Option<Array1<f64>>,
}
/// Adam: momentum and RMSProp with bias correction; `weight_decay > 0` makes it AdamW
/// (p ← p·(1 − lr·wd) before the Adam step: decay decoupled from the gradient).
pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub m: Option<Array1<f64>>,
    pub v: Option<Array1<f64>>,
    pub t: i32,
}

impl Adam {
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            m: None,
            v: None,
            t: 0,
        }
    }
    pub fn adamw(lr: f64, weight_decay: f64) -> Self {
        Self {
            weight_decay,
            ..Self::new(lr)
        }
    }
}

// ANCHOR: optimizers
impl Optimizer for Sgd {
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn step(&mut self, p: &mut Array1<f64>, g: &Array1<f64>) {
        // BEGIN SOLUTION optimizers
        p.scaled_add(-self.lr, g);
        // END SOLUTION
    }
    fn name(&self) -> String {
        format!("SGD (lr {})", self.lr)
    }
}

impl Optimizer for Momentum {
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn step(&mut self, p: &mut Array1<f64>, g: &Array1<f64>) {
        // BEGIN SOLUTION optimizers
        let v = zeros_like(&mut self.v, p.len());
        *v = &*v * self.beta + g;
        p.scaled_add(-self.lr, v);
        // END SOLUTION
    }
    fn name(&self) -> String {
        format!("momentum (lr {}, β {})", self.lr, self.beta)
    }
}

impl Optimizer for Nesterov {
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn step(&mut self, p: &mut Array1<f64>, g: &Array1<f64>) {
        // BEGIN SOLUTION optimizers
        let v = zeros_like(&mut self.v, p.len());
        *v = &*v * self.beta + g;
        let look = g + &(&*v * self.beta);
        p.scaled_add(-self.lr, &look);
        // END SOLUTION
    }
    fn name(&self) -> String {
        format!("Nesterov (lr {}, β {})", self.lr, self.beta)
    }
}

impl Optimizer for RmsProp {
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn step(&mut self, p: &mut Array1<f64>, g: &Array1<f64>) {
        // BEGIN SOLUTION optimizers
        let (rho, lr, eps) = (self.rho, self.lr, self.eps);
        let s = zeros_like(&mut self.s, p.len());
        *s = &*s * rho + &g.mapv(|x| (1.0 - rho) * x * x);
        ndarray::Zip::from(p)
            .and(g)
            .and(&*s)
            .for_each(|p, &g, &s| *p -= lr * g / (s.sqrt() + eps));
        // END SOLUTION
    }
    fn name(&self) -> String {
        format!("RMSProp (lr {})", self.lr)
    }
}

impl Optimizer for Adam {
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn step(&mut self, p: &mut Array1<f64>, g: &Array1<f64>) {
        // BEGIN SOLUTION optimizers
        self.t += 1;
        let (b1, b2, lr, eps, wd) = (self.beta1, self.beta2, self.lr, self.eps, self.weight_decay);
        let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        zeros_like(&mut self.m, p.len());
        zeros_like(&mut self.v, p.len());
        let (Some(m), Some(v)) = (self.m.as_mut(), self.v.as_mut()) else {
            return;
        };
        // One pass over every parameter: both moments, then the step (no temporary arrays).
        ndarray::Zip::from(p)
            .and(m)
            .and(v)
            .and(g)
            .for_each(|p, m, v, &g| {
                *p *= 1.0 - lr * wd; // decoupled weight decay (AdamW); wd = 0 for Adam
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                *p -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
            });
        // END SOLUTION
    }
    fn name(&self) -> String {
        if self.weight_decay > 0.0 {
            format!("AdamW (lr {}, wd {})", self.lr, self.weight_decay)
        } else {
            format!("Adam (lr {})", self.lr)
        }
    }
}
// ANCHOR_END: optimizers

/// The Rosenbrock function (1 − x)² + 100(y − x²)², minimum 0 at (1, 1), and its gradient.
pub fn rosenbrock(p: &Array1<f64>) -> (f64, Array1<f64>) {
    let (x, y) = (p[0], p[1]);
    let f = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
    let g = ndarray::array![
        -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
        200.0 * (y - x * x)
    ];
    (f, g)
}
