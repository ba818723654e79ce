#!/usr/bin/python3
"""Image fixtures for test_rt_images.c: small PNG and JPEG files and what torchvision 0.14 / Pillow 9 make of
them (the peer implementation of the image() preprocessing the runtime reimplements in C).

    /usr/bin/python3 tests/reference/make_image_fixtures.py      # -> tests/data/images/

Each case writes IMAGE and CASE.npy = the float32 tensor of transforms.Compose([...]) on
PIL.Image.open(IMAGE).convert(mode); cases.txt lists `CASE IMAGE CHANNELS H W RESIZE RESIZE_H RESIZE_W CROP_H
CROP_W MEAN0 MEAN1 MEAN2 STD0 STD1 STD2` (0: not used) for the test to replay. Also decoded.npy files: the
plain PIL decoding (uint8 HWC) of each JPEG, which libjpeg-turbo under the runtime must reproduce exactly.
"""
import os

import numpy as np
from PIL import Image
import torchvision.transforms as T

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'data', 'images')
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def picture(w, h, seed):
    """A smooth gradient with a few sharp edges and noise: something resampling can get wrong."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 127 + 120 * np.sin(x / 7.0 + seed)
    g = 127 + 120 * np.cos(y / 5.0 - seed)
    b = (x * 3 + y * 2) % 256
    img = np.stack([r, g, b], -1)
    img[h // 3: h // 2, w // 4: w // 2] = [250, 10, 30]
    img += rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {}
    Image.fromarray(picture(97, 71, 1)).save(os.path.join(OUT, 'rgb_97x71.jpg'), quality=90)
    Image.fromarray(picture(64, 80, 2)).save(os.path.join(OUT, 'rgb_64x80_progressive.jpg'), quality=75,
                                             progressive=True)
    Image.fromarray(picture(45, 60, 3)[:, :, 0]).save(os.path.join(OUT, 'gray_45x60.jpg'), quality=85)
    rgba = np.concatenate([picture(50, 37, 4), np.full((37, 50, 1), 128, np.uint8)], -1)
    Image.fromarray(rgba, 'RGBA').save(os.path.join(OUT, 'rgba_50x37.png'))
    Image.fromarray(picture(40, 40, 5)).convert('P', palette=Image.ADAPTIVE, colors=16).save(
        os.path.join(OUT, 'palette_40x40.png'))
    Image.fromarray(picture(28, 28, 6)[:, :, 1]).save(os.path.join(OUT, 'gray_28x28.png'))
    Image.fromarray(picture(8, 8, 7)).convert('CMYK').save(os.path.join(OUT, 'cmyk_8x8.jpg'))
    cases = [
        # name, image, mode, channels, h, w, resize, (resize_h, resize_w), (crop_h, crop_w), normalise
        ('imagenet_jpg', 'rgb_97x71.jpg', 'RGB', 3, 56, 56, 64, (0, 0), (56, 56), True),
        ('imagenet_progressive', 'rgb_64x80_progressive.jpg', 'RGB', 3, 56, 56, 64, (0, 0), (56, 56), True),
        ('upscale_gray_to_rgb', 'gray_45x60.jpg', 'RGB', 3, 72, 72, 80, (0, 0), (72, 72), True),
        ('exact_resize_rgba', 'rgba_50x37.png', 'RGB', 3, 31, 43, 0, (31, 43), (0, 0), False),
        ('palette_shrink', 'palette_40x40.png', 'RGB', 3, 13, 13, 13, (0, 0), (0, 0), True),
        ('gray_mnist_like', 'rgb_97x71.jpg', 'L', 1, 28, 28, 32, (0, 0), (28, 28), False),
        ('crop_pads', 'gray_28x28.png', 'L', 1, 33, 30, 0, (0, 0), (33, 30), False),
        ('as_is', 'gray_28x28.png', 'L', 1, 28, 28, 0, (0, 0), (0, 0), False),
        ('odd_crop_offset', 'rgb_97x71.jpg', 'RGB', 3, 40, 50, 0, (0, 0), (40, 50), True),
    ]
    lines = []
    for name, image, mode, c, h, w, resize, rs, crop, norm in cases:
        steps = []
        if resize:
            steps.append(T.Resize(resize))
        if rs[0]:
            steps.append(T.Resize(list(rs)))
        if crop[0]:
            steps.append(T.CenterCrop(list(crop)))
        steps.append(T.ToTensor())
        if norm:
            steps.append(T.Normalize(MEAN[:c], STD[:c]))
        x = T.Compose(steps)(Image.open(os.path.join(OUT, image)).convert(mode)).numpy().astype(np.float32)
        assert x.shape == (c, h, w), (name, x.shape)
        np.save(os.path.join(OUT, name + '.npy'), x)
        m, s = (MEAN, STD) if norm else ([0, 0, 0], [0, 0, 0])
        lines.append(' '.join(str(v) for v in [name, image, c, h, w, resize, rs[0], rs[1], crop[0], crop[1], *m, *s]))
    for image in ['rgb_97x71.jpg', 'rgb_64x80_progressive.jpg', 'gray_45x60.jpg']:
        np.save(os.path.join(OUT, image.replace('.jpg', '_decoded.npy')), np.asarray(Image.open(os.path.join(OUT, image))))
    with open(os.path.join(OUT, 'cases.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('wrote', OUT)


if __name__ == '__main__':
    main()
