// SPDX-License-Identifier: GPL-2.0
/* gmm_ivshmem - UIO driver for QEMU's ivshmem device (PCI 1af4:1110)
 *
 * Part of gmm-testbed: each guest's gmmd reaches the global memory pool
 * and the doorbells of the other guests through this driver.
 *
 * Build (KVER = the guest kernel's release, e.g. 6.1.0-50-amd64):
 *
 * # make -C /usr/src/linux-headers-$KVER M=$PWD modules
 *
 * Load in the guest (uio first, or use modprobe):
 *
 * # insmod uio.ko && insmod gmm_ivshmem.ko
 *
 * Find the device: the uioN whose name is "gmm_ivshmem".
 *
 * # cat /sys/class/uio/uio0/name
 * gmm_ivshmem
 * # cat /sys/class/uio/uio0/device/ivposition      (own peer id)
 * 0
 * # cat /sys/class/uio/uio0/device/vectors         (0: ivshmem-plain)
 * 0
 *
 * Maps, in /sys/class/uio/uioN/maps/mapM/{name,addr,size,offset}:
 *
 *   map0 "registers": BAR0, mapped uncached.  The registers (QEMU's
 *        docs/specs/ivshmem-spec.rst) are at map offset + 0, 4, 8, 12:
 *        IntrMask, IntrStatus, IVPosition (own peer id, read-only),
 *        Doorbell (write peer << 16 | vector to interrupt that peer).
 *   map1 "shmem": BAR2, the shared memory, mapped cached (write-back):
 *        plain RAM on the host, so atomics and spinning on it are cheap.
 *        Write-back needs BAR2 above 4 GiB (SeaBIOS's MTRRs make the
 *        32-bit PCI hole uncachable), so the driver moves it there unless
 *        shmem_above_4g=0.  Check with debugfs while the pool is mapped:
 *        # grep <map1 addr> /sys/kernel/debug/x86/pat_memtype_list
 *        PAT: [mem 0x0000000100000000-0x0000000104000000] write-back
 *
 * mmap() map M of /dev/uioN at file offset M * PAGE_SIZE with length
 * "size"; the data starts "offset" bytes into the mapping (non-zero only
 * when the BAR does not start on a page boundary, which happens for the
 * 256-byte BAR0).
 *
 * Interrupts: on ivshmem-doorbell (MSI-X in BAR1) every vector increments
 * the UIO event counter, so a 4-byte read() of /dev/uioN blocks until a
 * doorbell arrives and returns the total event count (poll() works too).
 * Which vector fired is not told apart.  On ivshmem-plain there are no
 * interrupts and read() fails with EIO.  Legacy INTx (ivshmem-doorbell
 * with msi=off) is not supported.
 *
 * /dev/uioN reaches all of BAR0 and BAR2 (GMM's tables included), so it
 * stays root-only (devtmpfs creates it 0600).  Other processes get windows:
 *
 * /dev/gmm_window (0666): each open file is a window onto part of BAR2,
 * mapping nothing until a CAP_SYS_ADMIN caller (gmmd) sets it once with
 * ioctl(GMM_WINDOW_SET, {offset, length, flags}); then mmap() at file
 * offset 0 maps the window's first byte, write-back like map 1.  Pages
 * outside the window, MAP_PRIVATE and write mappings of a read-only window
 * are refused; the window cannot be changed.  gmmd passes the descriptor
 * to a client over its socket and keeps a copy: ioctl(GMM_WINDOW_REVOKE)
 * on it tears down every mapping of the window (a later touch is SIGBUS)
 * when the section behind it is gone.  The interface is gmm_ivshmem_uapi.h.
 *
 * /dev/gmm_heartbeat (0600): the node's heartbeat, kept by this kernel.
 * gmmd opens it and calls ioctl(GMM_HEARTBEAT_START, {node, incarnation,
 * period_ns}) after each join; an hrtimer then increments that node slot's
 * heartbeat (common/include/gmm/pool_abi.h) every period, whatever user
 * space does, until the slot shows another incarnation or a dead state, or
 * until the file is released (gmmd gone).  See it beat:
 *
 * # grep -A1 gmm_beat /proc/timer_list
 */

#include <linux/capability.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio_driver.h>

#include "gmm_ivshmem_uapi.h"
#include "gmm/pool_abi.h"

#define DRIVER_NAME	"gmm_ivshmem"
#define DRIVER_VERSION	"0.4"
#define DRIVER_DESC	"UIO driver for QEMU ivshmem (gmm-testbed)"

#define PCI_VENDOR_ID_IVSHMEM	0x1af4
#define PCI_DEVICE_ID_IVSHMEM	0x1110

/* BARs and BAR0 register offsets, named after QEMU's ivshmem-spec.rst */
#define IVSHMEM_REG_BAR		0
#define IVSHMEM_MSIX_BAR	1
#define IVSHMEM_SHMEM_BAR	2

#define IVSHMEM_INTR_MASK	0x00
#define IVSHMEM_INTR_STATUS	0x04
#define IVSHMEM_IV_POSITION	0x08
#define IVSHMEM_DOORBELL	0x0c

#define GMM_MAP_REGS		0
#define GMM_MAP_SHMEM		1

static bool shmem_above_4g = true;
module_param(shmem_above_4g, bool, 0444);
MODULE_PARM_DESC(shmem_above_4g,
		 "Move a 64-bit BAR2 found below 4 GiB into the host bridge window above 4 GiB, so that it can be mapped write-back (default: on)");

/* Where BAR2, the pool, lies in guest-physical memory. */
struct gmm_shmem {
	phys_addr_t start;
	resource_size_t len;
};

struct gmm_ivshmem_dev {
	struct uio_info info;
	struct pci_dev *pdev;
	void __iomem *regs;
	int nvectors;
	struct gmm_shmem shmem;		/* BAR2, fixed at probe */
	struct miscdevice window_dev;	/* /dev/gmm_window */
	struct miscdevice beat_dev;	/* /dev/gmm_heartbeat */
};

/*
 * One window and one heartbeat device in the system: they belong to the
 * first ivshmem device found.
 */
static atomic_t gmm_window_claimed = ATOMIC_INIT(0);

/*
 * One per open file of /dev/gmm_window.  BAR2's place is copied at open,
 * so an open file never looks at the gmm_ivshmem_dev again.
 */
struct gmm_window {
	struct mutex lock;		/* guards the fields below */
	struct gmm_shmem shmem;		/* BAR2 */
	bool set;			/* the window is fixed for good */
	bool revoked;			/* for good: nothing maps it again */
	u64 offset;
	u64 length;
	bool writable;
};

/*
 * The ioctls that aim or stop something (window SET and REVOKE, heartbeat
 * START): both the caller and whoever opened the file must be privileged.
 * A descriptor handed to a client cannot be re-aimed or revoked by it, and
 * an unprivileged opener cannot get a privileged process to aim its
 * descriptor.
 */
static bool gmm_privileged(struct file *file)
{
	return capable(CAP_SYS_ADMIN) &&
	       file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN);
}

/* All MSI-X vectors feed the one UIO event counter. */
static irqreturn_t gmm_ivshmem_msix_handler(int irq, void *arg)
{
	struct gmm_ivshmem_dev *gdev = arg;

	uio_event_notify(&gdev->info);
	return IRQ_HANDLED;
}

static ssize_t ivposition_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct gmm_ivshmem_dev *gdev = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%d\n",
			  (int)ioread32(gdev->regs + IVSHMEM_IV_POSITION));
}
static DEVICE_ATTR_RO(ivposition);

static ssize_t vectors_show(struct device *dev,
			    struct device_attribute *attr, char *buf)
{
	struct gmm_ivshmem_dev *gdev = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%d\n", gdev->nvectors);
}
static DEVICE_ATTR_RO(vectors);

static struct attribute *gmm_ivshmem_attrs[] = {
	&dev_attr_ivposition.attr,
	&dev_attr_vectors.attr,
	NULL,
};
ATTRIBUTE_GROUPS(gmm_ivshmem);

/*
 * Describe a BAR as a UIO map.  UIO wants a page-aligned address, so a BAR
 * that starts inside a page is published as the whole page plus an offset.
 */
static void gmm_ivshmem_set_map(struct uio_mem *mem, struct pci_dev *pdev,
				int bar, const char *name, int memtype)
{
	resource_size_t start = pci_resource_start(pdev, bar);

	mem->name = name;
	mem->memtype = memtype;
	mem->addr = start & PAGE_MASK;
	mem->offs = start & ~PAGE_MASK;
	mem->size = PAGE_ALIGN(mem->offs + pci_resource_len(pdev, bar));
}

/*
 * SeaBIOS puts BAR2 into the 32-bit PCI hole, which its MTRRs make
 * uncachable; PAT then downgrades any write-back mapping of it to UC-.
 * Above 4 GiB the MTRR default type (write-back) applies, so move a 64-bit
 * BAR2 there: the PCI core tries windows above 4 GiB first for 64-bit
 * BARs, and falls back to below 4 GiB if there is no room.
 */
static void gmm_ivshmem_move_shmem(struct pci_dev *pdev)
{
	struct resource *res = &pdev->resource[IVSHMEM_SHMEM_BAR];
	int err;

	if (!shmem_above_4g || !(res->flags & IORESOURCE_MEM_64) ||
	    res->start >= SZ_4G)
		return;

	pci_release_resource(pdev, IVSHMEM_SHMEM_BAR);
	err = pci_assign_resource(pdev, IVSHMEM_SHMEM_BAR);
	if (err)
		dev_warn(&pdev->dev, "cannot reassign BAR2: %d\n", err);
	else if (res->start < SZ_4G)
		dev_info(&pdev->dev, "no room above 4 GiB for BAR2: mapped uncached\n");
}

static int gmm_ivshmem_setup_msix(struct gmm_ivshmem_dev *gdev)
{
	struct pci_dev *pdev = gdev->pdev;
	struct device *dev = &pdev->dev;
	int nvec, i, irq, err;
	char *name;

	nvec = pci_msix_vec_count(pdev);
	if (nvec <= 0)
		return 0;	/* ivshmem-plain: no interrupts */

	/* MSI-X messages are memory writes by the device */
	pci_set_master(pdev);

	/* Freed by the PCI core on release: the device is pcim-managed. */
	nvec = pci_alloc_irq_vectors(pdev, 1, nvec, PCI_IRQ_MSIX);
	if (nvec < 0)
		return dev_err_probe(dev, nvec, "cannot enable MSI-X\n");

	for (i = 0; i < nvec; i++) {
		irq = pci_irq_vector(pdev, i);
		if (irq < 0)
			return irq;
		name = devm_kasprintf(dev, GFP_KERNEL, "%s[%s]:%d",
				      DRIVER_NAME, pci_name(pdev), i);
		if (!name)
			return -ENOMEM;
		err = devm_request_irq(dev, irq, gmm_ivshmem_msix_handler, 0,
				       name, gdev);
		if (err)
			return dev_err_probe(dev, err,
					     "cannot request vector %d\n", i);
	}
	gdev->nvectors = nvec;
	return 0;
}

/*
 * The window device: each open file is a window onto part of BAR2 that a
 * privileged caller sets once.  See gmm_ivshmem_uapi.h for the contract.
 */
/*
 * The device behind an opening file of /dev/gmm_window or /dev/gmm_heartbeat:
 * misc_open() put the miscdevice in file->private_data and holds misc_mtx,
 * so the gmm_ivshmem_dev (the drvdata of the miscdevice's parent) cannot go
 * away during open().
 */
static struct gmm_ivshmem_dev *gmm_opening_dev(struct file *file)
{
	struct miscdevice *misc = file->private_data;

	return dev_get_drvdata(misc->parent);
}

static int gmm_window_open(struct inode *inode, struct file *file)
{
	struct gmm_ivshmem_dev *gdev = gmm_opening_dev(file);
	struct gmm_window *win;

	win = kzalloc(sizeof(*win), GFP_KERNEL);
	if (!win)
		return -ENOMEM;
	mutex_init(&win->lock);
	win->shmem = gdev->shmem;
	file->private_data = win;
	return 0;
}

static int gmm_window_release(struct inode *inode, struct file *file)
{
	struct gmm_window *win = file->private_data;

	mutex_destroy(&win->lock);
	kfree(win);
	return 0;
}

static long gmm_window_set(struct gmm_window *win, struct file *file,
			   void __user *argp)
{
	struct gmm_window_args args;
	long err = 0;

	if (!gmm_privileged(file))
		return -EPERM;
	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;

	mutex_lock(&win->lock);
	if (win->set) {
		err = -EBUSY;
		goto out;
	}
	if ((args.flags & ~GMM_WINDOW_WRITABLE) || args.reserved ||
	    !args.length || !IS_ALIGNED(args.offset, PAGE_SIZE) ||
	    !IS_ALIGNED(args.length, PAGE_SIZE) ||
	    args.offset > win->shmem.len ||
	    args.length > win->shmem.len - args.offset) {
		err = -EINVAL;
		goto out;
	}
	if ((args.flags & GMM_WINDOW_WRITABLE) && !(file->f_mode & FMODE_WRITE)) {
		err = -EBADF;
		goto out;
	}
	win->offset = args.offset;
	win->length = args.length;
	win->writable = args.flags & GMM_WINDOW_WRITABLE;
	win->set = true;
out:
	mutex_unlock(&win->lock);
	return err;
}

static long gmm_window_get(struct gmm_window *win, void __user *argp)
{
	struct gmm_window_args args = { };
	bool set;

	mutex_lock(&win->lock);
	set = win->set;
	args.offset = win->offset;
	args.length = win->length;
	args.flags = (win->writable ? GMM_WINDOW_WRITABLE : 0) |
		     (win->revoked ? GMM_WINDOW_REVOKED : 0);
	mutex_unlock(&win->lock);
	if (!set)
		return -ENXIO;
	return copy_to_user(argp, &args, sizeof(args)) ? -EFAULT : 0;
}

/*
 * Mark the window revoked, then zap its mappings.  In that order: a fault
 * that inserted pages before the mark (under win->lock) is undone by the
 * zap, a fault after it fails.  All windows share the device inode's
 * mapping (file->f_mapping), so the other windows' entries go too; their
 * next touch refaults them (one fault per mapping).
 */
static long gmm_window_revoke(struct gmm_window *win, struct file *file)
{
	bool set;

	if (!gmm_privileged(file))
		return -EPERM;
	mutex_lock(&win->lock);
	set = win->set;
	if (set)
		win->revoked = true;
	mutex_unlock(&win->lock);
	if (!set)
		return -ENXIO;
	unmap_mapping_range(file->f_mapping, 0, 0, 1);
	return 0;
}

static long gmm_window_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	struct gmm_window *win = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case GMM_WINDOW_SET:
		return gmm_window_set(win, file, argp);
	case GMM_WINDOW_GET:
		return gmm_window_get(win, argp);
	case GMM_WINDOW_REVOKE:
		return gmm_window_revoke(win, file);
	default:
		return -ENOTTY;
	}
}

/*
 * A window's pages are inserted at the first touch of a mapping, never at
 * mmap time, so that a revocation reaches them all: unmap_mapping_range()
 * finds a mapping only once mmap() has linked it to the file, and by then
 * a page table entry can only come from here, where the revocation mark
 * is checked.  The first fault fills the whole mapping, as
 * remap_pfn_range() at mmap time would.  Cached: x86 PAT gives an
 * inserted page the memory type reserved for it, write-back for all of
 * BAR2 since probe (gmm_ivshmem_probe).
 */
static vm_fault_t gmm_window_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct gmm_window *win = vma->vm_file->private_data;
	unsigned long pfn, addr;
	vm_fault_t ret;

	mutex_lock(&win->lock);
	if (win->revoked ||
	    vma->vm_pgoff + vma_pages(vma) > win->length >> PAGE_SHIFT) {
		ret = VM_FAULT_SIGBUS;
		goto out;
	}
	pfn = PHYS_PFN(win->shmem.start + win->offset) + vma->vm_pgoff;
	ret = vmf_insert_pfn(vma, vmf->address,
			     pfn + ((vmf->address - vma->vm_start) >> PAGE_SHIFT));
	if (ret & VM_FAULT_ERROR)
		goto out;
	/* the rest of the mapping; a page already there is left as it is */
	for (addr = vma->vm_start; addr < vma->vm_end; addr += PAGE_SIZE) {
		if (vmf_insert_pfn(vma, addr, pfn) & VM_FAULT_ERROR)
			break;
		pfn++;
	}
out:
	mutex_unlock(&win->lock);
	return ret;
}

static const struct vm_operations_struct gmm_window_vm_ops = {
	.fault = gmm_window_fault,
};

/*
 * File offset 0 is the window's first byte.  Nothing is mapped here (see
 * gmm_window_fault).  VM_DONTEXPAND: mremap() cannot grow a mapping past
 * what was checked here.
 */
static int gmm_window_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct gmm_window *win = file->private_data;
	unsigned long pages = vma_pages(vma);
	unsigned long window_pages;
	int err = 0;

	mutex_lock(&win->lock);
	if (!win->set) {
		err = -ENXIO;
		goto out;
	}
	if (win->revoked) {
		err = -ENODEV;
		goto out;
	}
	window_pages = win->length >> PAGE_SHIFT;
	/* VM_MAYSHARE: mmap() drops VM_SHARED for read-only files */
	if (!(vma->vm_flags & VM_MAYSHARE) || vma->vm_pgoff >= window_pages ||
	    pages > window_pages - vma->vm_pgoff) {
		err = -EINVAL;
		goto out;
	}
	if (!win->writable) {
		if (vma->vm_flags & VM_WRITE) {
			err = -EACCES;
			goto out;
		}
		vma->vm_flags &= ~VM_MAYWRITE;	/* and no mprotect() later */
	}
	vma->vm_flags |= VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP;
	vma->vm_ops = &gmm_window_vm_ops;
out:
	mutex_unlock(&win->lock);
	return err;
}

static const struct file_operations gmm_window_fops = {
	.owner = THIS_MODULE,
	.open = gmm_window_open,
	.release = gmm_window_release,
	.unlocked_ioctl = gmm_window_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = gmm_window_mmap,
	.llseek = noop_llseek,
};

/*
 * The heartbeat device: each open file can keep one node's heartbeat with
 * an hrtimer (hard interrupt context: no user-space load delays it).  BAR2
 * is mapped in the kernel only where the slot lies, write-back like the
 * user mappings (PAT needs one memory type for a range).  See
 * gmm_ivshmem_uapi.h for the contract.
 */
struct gmm_beat {
	struct mutex lock;		/* serialises START and STATUS */
	struct hrtimer timer;
	struct gmm_shmem shmem;		/* BAR2, copied at open */
	void *map;			/* the page(s) holding the slot */
	struct gmm_node_slot *slot;	/* inside map */
	u32 node;
	u32 incarnation;
	ktime_t period;
	atomic64_t beats;
	bool running;			/* WRITE_ONCE by the timer */
};

#define GMM_BEAT_MIN_PERIOD_NS	(1ULL * NSEC_PER_MSEC)
#define GMM_BEAT_MAX_PERIOD_NS	(10ULL * NSEC_PER_SEC)

static bool gmm_beat_slot_alive(const struct gmm_node_slot *slot,
				u32 incarnation)
{
	u32 state = READ_ONCE(slot->state);

	return READ_ONCE(slot->incarnation) == incarnation &&
	       (state == GMM_NODE_JOINING || state == GMM_NODE_MEMBER);
}

static enum hrtimer_restart gmm_beat_fire(struct hrtimer *timer)
{
	struct gmm_beat *beat = container_of(timer, struct gmm_beat, timer);
	struct gmm_node_slot *slot = beat->slot;

	if (!gmm_beat_slot_alive(slot, beat->incarnation)) {
		WRITE_ONCE(beat->running, false);
		return HRTIMER_NORESTART;
	}
	/* as gmmd beats: the counter (fully ordered), then its time */
	atomic64_inc_return((atomic64_t *)&slot->heartbeat);
	WRITE_ONCE(slot->heartbeat_ns, ktime_get_real_ns());
	atomic64_inc(&beat->beats);
	hrtimer_forward_now(timer, beat->period);
	return HRTIMER_RESTART;
}

static int gmm_beat_open(struct inode *inode, struct file *file)
{
	struct gmm_ivshmem_dev *gdev = gmm_opening_dev(file);
	struct gmm_beat *beat;

	beat = kzalloc(sizeof(*beat), GFP_KERNEL);
	if (!beat)
		return -ENOMEM;
	mutex_init(&beat->lock);
	hrtimer_init(&beat->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	beat->timer.function = gmm_beat_fire;
	beat->shmem = gdev->shmem;
	file->private_data = beat;
	return 0;
}

/* Stops the timer and drops the mapping.  Called with beat->lock held or
 * from release.
 */
static void gmm_beat_stop(struct gmm_beat *beat)
{
	hrtimer_cancel(&beat->timer);
	WRITE_ONCE(beat->running, false);
	if (beat->map)
		memunmap(beat->map);
	beat->map = NULL;
	beat->slot = NULL;
}

static int gmm_beat_release(struct inode *inode, struct file *file)
{
	struct gmm_beat *beat = file->private_data;

	gmm_beat_stop(beat);
	mutex_destroy(&beat->lock);
	kfree(beat);
	return 0;
}

/* Where node's slot lies in BAR2, from the pool's superblock. */
static long gmm_beat_find_slot(struct gmm_beat *beat, u32 node, u64 *offset)
{
	void *sb;
	u64 magic, nodes_offset;
	u32 version, node_count;

	if (beat->shmem.len < PAGE_SIZE)
		return -ENODEV;
	sb = memremap(beat->shmem.start, PAGE_SIZE, MEMREMAP_WB);
	if (!sb)
		return -ENOMEM;
	magic = READ_ONCE(*(u64 *)(sb + GMM_SB_MAGIC));
	version = READ_ONCE(*(u32 *)(sb + GMM_SB_LAYOUT_VERSION));
	node_count = READ_ONCE(*(u32 *)(sb + GMM_SB_NODE_COUNT));
	nodes_offset = READ_ONCE(*(u64 *)(sb + GMM_SB_NODES_OFFSET));
	memunmap(sb);
	if (magic != GMM_POOL_MAGIC)
		return -ENODEV;
	if (version != GMM_LAYOUT_VERSION)
		return -EPROTO;
	if (node >= node_count || node_count > GMM_MAX_NODES)
		return -EINVAL;
	*offset = nodes_offset + (u64)node * sizeof(struct gmm_node_slot);
	if (!IS_ALIGNED(*offset, sizeof(u64)) || *offset > beat->shmem.len ||
	    sizeof(struct gmm_node_slot) > beat->shmem.len - *offset)
		return -ENODEV;
	return 0;
}

static long gmm_beat_start(struct gmm_beat *beat, struct file *file,
			   void __user *argp)
{
	struct gmm_heartbeat_args args;
	u64 offset, first_page, len;
	void *map;
	long err;

	if (!gmm_privileged(file))
		return -EPERM;
	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.period_ns < GMM_BEAT_MIN_PERIOD_NS ||
	    args.period_ns > GMM_BEAT_MAX_PERIOD_NS)
		return -EINVAL;

	mutex_lock(&beat->lock);
	gmm_beat_stop(beat);
	err = gmm_beat_find_slot(beat, args.node, &offset);
	if (err)
		goto out;
	first_page = round_down(offset, PAGE_SIZE);
	len = round_up(offset + sizeof(struct gmm_node_slot), PAGE_SIZE) -
	      first_page;
	map = memremap(beat->shmem.start + first_page, len, MEMREMAP_WB);
	if (!map) {
		err = -ENOMEM;
		goto out;
	}
	beat->map = map;
	beat->slot = map + (offset - first_page);
	if (!gmm_beat_slot_alive(beat->slot, args.incarnation)) {
		gmm_beat_stop(beat);
		err = -ESTALE;
		goto out;
	}
	beat->node = args.node;
	beat->incarnation = args.incarnation;
	beat->period = ns_to_ktime(args.period_ns);
	atomic64_set(&beat->beats, 0);
	WRITE_ONCE(beat->running, true);
	/* the first beat now: a joiner is alive from the start */
	hrtimer_start(&beat->timer, 0, HRTIMER_MODE_REL_HARD);
out:
	mutex_unlock(&beat->lock);
	return err;
}

static long gmm_beat_status(struct gmm_beat *beat, void __user *argp)
{
	struct gmm_heartbeat_status status = { };

	mutex_lock(&beat->lock);
	status.node = beat->node;
	status.incarnation = beat->incarnation;
	status.beats = atomic64_read(&beat->beats);
	status.running = READ_ONCE(beat->running);
	mutex_unlock(&beat->lock);
	return copy_to_user(argp, &status, sizeof(status)) ? -EFAULT : 0;
}

static long gmm_beat_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	struct gmm_beat *beat = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case GMM_HEARTBEAT_START:
		return gmm_beat_start(beat, file, argp);
	case GMM_HEARTBEAT_STATUS:
		return gmm_beat_status(beat, argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations gmm_beat_fops = {
	.owner = THIS_MODULE,
	.open = gmm_beat_open,
	.release = gmm_beat_release,
	.unlocked_ioctl = gmm_beat_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static void gmm_ivshmem_remove_window(void *data)
{
	misc_deregister(data);
	atomic_set(&gmm_window_claimed, 0);
}

static void gmm_ivshmem_remove_beat(void *data)
{
	misc_deregister(data);
}

/* One character device of the node, a child of the PCI device; devres
 * calls `remove` (which unregisters it) when the driver unbinds.
 */
static int gmm_ivshmem_register_misc(struct device *dev,
				     struct miscdevice *misc, const char *name,
				     const struct file_operations *fops,
				     umode_t mode, void (*remove)(void *))
{
	int err;

	misc->minor = MISC_DYNAMIC_MINOR;
	misc->name = name;
	misc->fops = fops;
	misc->parent = dev;
	misc->mode = mode;
	err = misc_register(misc);
	if (err)
		return dev_err_probe(dev, err, "cannot register %s\n", name);
	return devm_add_action_or_reset(dev, remove, misc);
}

static int gmm_ivshmem_add_misc(struct gmm_ivshmem_dev *gdev)
{
	struct device *dev = &gdev->pdev->dev;
	int err;

	if (atomic_cmpxchg(&gmm_window_claimed, 0, 1)) {
		dev_info(dev, "window and heartbeat devices belong to another ivshmem device\n");
		return 0;
	}
	/* 0666: opening grants nothing by itself */
	err = gmm_ivshmem_register_misc(dev, &gdev->window_dev, "gmm_window",
					&gmm_window_fops, 0666,
					gmm_ivshmem_remove_window);
	if (err) {
		atomic_set(&gmm_window_claimed, 0);
		return err;
	}
	/* 0600: it writes GMM's tables */
	return gmm_ivshmem_register_misc(dev, &gdev->beat_dev, "gmm_heartbeat",
					 &gmm_beat_fops, 0600,
					 gmm_ivshmem_remove_beat);
}

static int gmm_ivshmem_probe(struct pci_dev *pdev,
			     const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	struct gmm_ivshmem_dev *gdev;
	void *shmem;
	int err;

	gmm_ivshmem_move_shmem(pdev);

	err = pcim_enable_device(pdev);
	if (err)
		return dev_err_probe(dev, err, "cannot enable device\n");

	if (!(pci_resource_flags(pdev, IVSHMEM_REG_BAR) & IORESOURCE_MEM) ||
	    !(pci_resource_flags(pdev, IVSHMEM_SHMEM_BAR) & IORESOURCE_MEM))
		return dev_err_probe(dev, -ENODEV, "BAR0 or BAR2 missing\n");

	/* Managed by pcim: released when the driver detaches. */
	err = pci_request_regions(pdev, DRIVER_NAME);
	if (err)
		return dev_err_probe(dev, err, "cannot request BARs\n");

	gdev = devm_kzalloc(dev, sizeof(*gdev), GFP_KERNEL);
	if (!gdev)
		return -ENOMEM;
	gdev->pdev = pdev;

	gdev->regs = pcim_iomap(pdev, IVSHMEM_REG_BAR, 0);
	if (!gdev->regs)
		return dev_err_probe(dev, -ENOMEM, "cannot map BAR0\n");
	/*
	 * BAR2 is mapped write-back once, for as long as the driver is bound:
	 * that reserves its memory type, which x86 PAT gives the pages the
	 * window device inserts at fault time (without a reservation they
	 * would be UC-).  Never uncached: that would force the user mappings
	 * to be uncached too.
	 */
	gdev->shmem.start = pci_resource_start(pdev, IVSHMEM_SHMEM_BAR);
	gdev->shmem.len = pci_resource_len(pdev, IVSHMEM_SHMEM_BAR);
	shmem = devm_memremap(dev, gdev->shmem.start, gdev->shmem.len,
			      MEMREMAP_WB);
	if (IS_ERR(shmem))
		return dev_err_probe(dev, PTR_ERR(shmem), "cannot map BAR2\n");

	gmm_ivshmem_set_map(&gdev->info.mem[GMM_MAP_REGS], pdev,
			    IVSHMEM_REG_BAR, "registers", UIO_MEM_PHYS);
	gdev->info.mem[GMM_MAP_REGS].internal_addr = gdev->regs;
	/* UIO_MEM_IOVA is mmapped like UIO_MEM_PHYS, but without
	 * pgprot_noncached(): the shared memory is cached RAM.
	 */
	gmm_ivshmem_set_map(&gdev->info.mem[GMM_MAP_SHMEM], pdev,
			    IVSHMEM_SHMEM_BAR, "shmem", UIO_MEM_IOVA);

	gdev->info.name = DRIVER_NAME;
	gdev->info.version = DRIVER_VERSION;
	gdev->info.irq = pci_msix_vec_count(pdev) > 0 ? UIO_IRQ_CUSTOM :
							UIO_IRQ_NONE;
	pci_set_drvdata(pdev, gdev);

	/*
	 * Register before requesting the vectors, so that on removal devres
	 * frees the handlers before the UIO device they notify goes away.
	 */
	err = devm_uio_register_device(dev, &gdev->info);
	if (err)
		return dev_err_probe(dev, err, "cannot register UIO device\n");

	err = gmm_ivshmem_setup_msix(gdev);
	if (err)
		return err;

	err = gmm_ivshmem_add_misc(gdev);
	if (err)
		return err;

	dev_info(dev, "IVPosition %d, shared memory %pR, %d MSI-X vectors\n",
		 (int)ioread32(gdev->regs + IVSHMEM_IV_POSITION),
		 &pdev->resource[IVSHMEM_SHMEM_BAR], gdev->nvectors);
	return 0;
}

static const struct pci_device_id gmm_ivshmem_ids[] = {
	{ PCI_DEVICE(PCI_VENDOR_ID_IVSHMEM, PCI_DEVICE_ID_IVSHMEM) },
	{ }
};
MODULE_DEVICE_TABLE(pci, gmm_ivshmem_ids);

static struct pci_driver gmm_ivshmem_driver = {
	.name = DRIVER_NAME,
	.id_table = gmm_ivshmem_ids,
	.probe = gmm_ivshmem_probe,
	.dev_groups = gmm_ivshmem_groups,
};

module_pci_driver(gmm_ivshmem_driver);
MODULE_VERSION(DRIVER_VERSION);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION(DRIVER_DESC);
