# PyTorch's CUDA kernel time per ResNet-18 step (torch_ref.py's model, batch 128, SGD), by kernel.
# Usage: torch_resnet18_profile.py DIR_WITH_torch_ref.py
import sys, torch, torch.nn.functional as F
sys.path.insert(0, sys.argv[1])
import torch_ref
torch.manual_seed(0)
dev = torch.device("cuda")
net = torch_ref.ResNet18().to(dev)
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
x = torch.rand(128, 1, 28, 28, device=dev); y = torch.randint(0, 10, (128,), device=dev)
def step():
    opt.zero_grad(set_to_none=True); F.cross_entropy(net(x), y).backward(); opt.step()
for _ in range(10): step()
torch.cuda.synchronize()
from torch.profiler import profile, ProfilerActivity
with profile(activities=[ProfilerActivity.CUDA]) as p:
    for _ in range(5): step()
    torch.cuda.synchronize()
print(p.key_averages().table(sort_by="cuda_time_total", row_limit=25, max_name_column_width=90))
